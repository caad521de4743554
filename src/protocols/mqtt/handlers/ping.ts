import type { MqttSession } from '../session.js';

/** [MQTT-3.12.4-1] */
export function handlePingreq(s: MqttSession): void {
  s.send({ cmd: 'pingresp' });
}
