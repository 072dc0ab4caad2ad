export * from './scalable-wordpress';
export * from './database';
export * from './media';
export * from './edge';
export * from './firewall';
export * from './backup';
export * from './object-cache';
