export * from './scalable-wordpress';
export * from './database';
export * from './media';
