// The bench's MQTT fixed-header reader (its client and the gateway floor both frame with it)
// against mqtt-packet's encoding of the same remaining lengths.
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { readFixedHeader } from '../../bench/clients/mqtt-frame.js';

describe('readFixedHeader', () => {
  it.each([0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152])('reads a %i-byte body as mqtt-packet frames it', (size) => {
    const packet = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(Math.max(0, size - 3)), qos: 0, dup: false, retain: false });
    const h = readFixedHeader(Buffer.concat([Buffer.from([0xff]), packet]), 1);
    expect(h).toEqual({ bodyStart: packet.length - Math.max(3, size) + 1, length: Math.max(3, size) });
  });

  it('asks for more bytes while the length is cut short, refuses a fifth length byte', () => {
    expect(readFixedHeader(Buffer.from([0x30]), 0)).toBe('partial');
    expect(readFixedHeader(Buffer.from([0x30, 0x80, 0x80]), 0)).toBe('partial');
    expect(readFixedHeader(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80]), 0)).toBe('malformed');
    expect(readFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), 0)).toEqual({ bodyStart: 5, length: 268_435_455 });
  });
});
