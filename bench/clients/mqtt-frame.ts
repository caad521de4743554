// MQTT's fixed header (a type byte, then the remaining length in 1-4 bytes of 7 bits each),
// read by both sides the bench runs: its MQTT client and the gateway floor's server.

/** where the packet at `off` starts its body and how long that is; 'partial' if more bytes are needed */
export type FixedHeader = { bodyStart: number; length: number } | 'partial' | 'malformed';

export function readFixedHeader(data: Buffer, off: number): FixedHeader {
  if (data.length - off < 2) return 'partial';
  let length = 0;
  let mul = 1;
  for (let i = off + 1; i < data.length && i < off + 5; i++) {
    const b = data[i]!;
    length += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return { bodyStart: i + 1, length };
  }
  return data.length - off >= 5 ? 'malformed' : 'partial';
}
