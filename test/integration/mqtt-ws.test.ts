// E2E: MQTT over WebSocket (path /mqtt and /ws with subprotocol `mqtt`, binary messages), the
// same session as over TCP.
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { connectClient, topicName, TestClient } from '../unit/mqtt/support/clients.js';
import { FABRICS } from '../unit/stomp/support/fabrics.js';

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: MQTT over WebSocket on the ${label}`, () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway({}, { fabric });
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it.each([
      ['/mqtt', 4],
      ['/ws', 5],
    ] as const)('mqtt.js over %s (level %i) talks to a TCP client', async (path, protocolVersion) => {
      const t = topicName('ws');
      const ws = new TestClient(mqtt.connect(gw.wsUrl(path), { protocolVersion, clientId: uniqueName('ws'), reconnectPeriod: 0 }));
      await new Promise<void>((resolve, reject) => {
        ws.client.once('connect', () => resolve());
        ws.client.once('error', reject);
      });
      await ws.client.subscribeAsync(`${t}/#`, { qos: 1 });
      const tcp = await connectClient(gw.ports.mqtt!, { protocolVersion });
      await tcp.client.subscribeAsync(`${t}/#`, { qos: 1 });
      await tcp.client.publishAsync(`${t}/from-tcp`, 'a', { qos: 1 });
      await ws.client.publishAsync(`${t}/from-ws`, 'b', { qos: 2 });
      const [w1, w2] = await ws.waitFor(2);
      const [t1, t2] = await tcp.waitFor(2);
      expect([w1!.topic, w2!.topic].sort()).toEqual([`${t}/from-tcp`, `${t}/from-ws`]);
      expect([t1!.topic, t2!.topic].sort()).toEqual([`${t}/from-tcp`, `${t}/from-ws`]);
      await ws.end();
      await tcp.end();
    });

    it('packets split across WebSocket messages and several packets in one message', async () => {
      const sock = new WebSocket(gw.wsUrl('/mqtt'), 'mqtt');
      await new Promise((resolve, reject) => {
        sock.once('open', resolve);
        sock.once('error', reject);
      });
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      const packets: string[] = [];
      parser.on('packet', (p) => packets.push(p.cmd));
      sock.on('message', (data: Buffer) => parser.parse(data));
      const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: uniqueName('raw'), keepalive: 0 });
      sock.send(connect.subarray(0, 5));
      sock.send(connect.subarray(5));
      sock.send(Buffer.concat([mqttPacket.generate({ cmd: 'pingreq' }), mqttPacket.generate({ cmd: 'pingreq' })]));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${packets.join(',')}`)), 5_000);
        const check = () => {
          if (packets.length < 3) return;
          clearTimeout(timer);
          resolve();
        };
        parser.on('packet', check);
        check();
      });
      expect(packets).toEqual(['connack', 'pingresp', 'pingresp']);
      sock.close();
    });
  });
}
