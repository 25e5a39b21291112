import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

/**
 * Draws Lifeline's icon (a red-and-white lifebuoy) as a PNG without an image library: electron-builder derives the
 * Windows .ico and macOS .icns from build/icon.png. Run: npx tsx scripts/make-icon.ts <size> <out.png>
 */
const size = Number(process.argv[2] ?? 512);
const out = process.argv[3] ?? 'build/icon.png';

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

const raw = Buffer.alloc((size * 4 + 1) * size);
const c = size / 2;
for (let y = 0; y < size; y++) {
  raw[y * (size * 4 + 1)] = 0;
  for (let x = 0; x < size; x++) {
    const dx = x + 0.5 - c;
    const dy = y + 0.5 - c;
    const r = Math.hypot(dx, dy) / c;
    const angle = Math.atan2(dy, dx) + Math.PI / 4;
    const quadrant = Math.floor(((angle + 2 * Math.PI) % (2 * Math.PI)) / (Math.PI / 2));
    const inRing = r > 0.5 && r < 0.95;
    const red = quadrant % 2 === 0;
    const o = y * (size * 4 + 1) + 1 + x * 4;
    if (inRing) {
      raw[o] = red ? 0xd7 : 0xff;
      raw[o + 1] = red ? 0x26 : 0xff;
      raw[o + 2] = red ? 0x3d : 0xff;
      raw[o + 3] = 0xff;
    } else if (r >= 0.95 && r < 1) {
      raw[o] = 0x33;
      raw[o + 1] = 0x33;
      raw[o + 2] = 0x33;
      raw[o + 3] = 0xff;
    } else {
      raw[o + 3] = 0;
    }
  }
}
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(size, 0);
ihdr.writeUInt32BE(size, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // RGBA
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(raw)),
  chunk('IEND', Buffer.alloc(0)),
]);
writeFileSync(out, png);
console.log(`wrote ${out} (${size}x${size})`);
