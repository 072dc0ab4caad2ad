import * as zlib from 'zlib';

/** A file to put in an archive. */
export interface ArchiveEntry {
  readonly name: string;
  readonly content: Buffer;
  readonly executable: boolean;
}

/**
 * A gzipped POSIX (ustar) tar of `entries`, byte-for-byte the same for the same input: sorted names,
 * owner root, mtime 0. Synthesis must be deterministic, or every synth would roll the instances.
 */
export function deterministicTarGz(entries: ArchiveEntry[]): Buffer {
  const blocks: Buffer[] = [];
  // Sorted by code unit, not localeCompare: the order must not depend on the deploying machine's locale.
  for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    blocks.push(header(entry), entry.content, Buffer.alloc(padding(entry.content.length)));
  }
  blocks.push(Buffer.alloc(1024)); // two empty blocks end the archive
  return zlib.gzipSync(Buffer.concat(blocks), { level: 9 });
}

function header(entry: ArchiveEntry): Buffer {
  if (Buffer.byteLength(entry.name) > 100) {
    throw new Error(`archive entry name too long: ${entry.name}`);
  }
  const h = Buffer.alloc(512);
  h.write(entry.name, 0, 100, 'utf8');
  h.write(octal(entry.executable ? 0o755 : 0o644, 8), 100);
  h.write(octal(0, 8), 108); // uid
  h.write(octal(0, 8), 116); // gid
  h.write(octal(entry.content.length, 12), 124);
  h.write(octal(0, 12), 136); // mtime
  h.write('        ', 148); // checksum placeholder: eight spaces
  h.write('0', 156); // regular file
  h.write('ustar\u000000', 257);
  h.write('root', 265);
  h.write('root', 297);
  const checksum = h.reduce((sum, byte) => sum + byte, 0);
  h.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148);
  return h;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}

function padding(length: number): number {
  return (512 - (length % 512)) % 512;
}
