// An IoT Plug and Play device written with the official Azure IoT Node.js SDKs, driven by
// conformance_test.go: it registers through DPS with a key derived from a group enrollment key
// and a model ID, connects over MQTT/TLS, sends telemetry, reads its twin, patches reported
// properties, answers the direct method "ping" and reports every cloud-to-device message.
// Events go to stdout as JSON lines; commands ("close", "open", "exit") come on stdin.
'use strict';

const crypto = require('crypto');
const readline = require('readline');
const { Client, Message } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const ProvMqtt = require('azure-iot-provisioning-device-mqtt');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
// The SDKs' WebSocket transports append :443 to the host name; the emulator's host names carry
// their port already, so drop the second one. Nothing else is changed.
const dropSecondPort = (uri) => uri.replace(/^(wss:\/\/[^/]*:\d+):443\//, '$1/');
class HubMqttWs extends MqttWs {
  _getBaseTransportConfig(credentials) {
    const config = super._getBaseTransportConfig(credentials);
    config.uri = dropSecondPort(config.uri);
    return config;
  }
}
class DpsMqttWs extends ProvMqtt.MqttWs {
  _getConnectionUri(request) {
    return dropSecondPort(super._getConnectionUri(request));
  }
}
const emit = (event, fields) => process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
const fail = (err) => {
  emit('error', { message: String(err && err.stack || err) });
  process.exit(1);
};

async function main() {
  const regId = env('REGISTRATION_ID');
  const modelId = env('MODEL_ID');
  const ws = process.env.TRANSPORT === 'mqtt-ws';
  // The device key of a group enrollment: HMAC-SHA256(groupKey, registrationId), as the SDK samples do.
  const key = crypto.createHmac('sha256', Buffer.from(env('GROUP_KEY'), 'base64')).update(regId, 'utf8').digest('base64');

  const provTransport = ws ? new DpsMqttWs() : new ProvMqtt.Mqtt();
  const prov = ProvisioningDeviceClient.create(env('DPS_HOST'), env('ID_SCOPE'), provTransport, new SymmetricKeySecurityClient(regId, key));
  prov.setProvisioningPayload({ modelId });
  const reg = await prov.register();
  emit('registered', { hub: reg.assignedHub, deviceId: reg.deviceId, status: reg.status });

  const cs = `HostName=${reg.assignedHub};DeviceId=${reg.deviceId};SharedAccessKey=${key}`;
  const client = Client.fromConnectionString(cs, ws ? HubMqttWs : Mqtt);
  await client.setOptions({ modelId });
  client.on('error', (err) => emit('clientError', { message: String(err) }));
  client.on('message', (msg) => {
    const props = {};
    for (const p of msg.properties.propertyList) props[p.key] = p.value;
    emit('c2d', { body: msg.getData().toString(), messageId: msg.messageId, props });
    client.complete(msg, () => {});
  });
  client.onDeviceMethod('ping', (req, res) => {
    emit('method', { name: req.methodName, payload: req.payload });
    res.send(200, { pong: req.payload }, (err) => err && emit('clientError', { message: String(err) }));
  });
  await client.open();
  emit('connected', {});

  const msg = new Message(JSON.stringify({ person: 2, bus: 1 }));
  msg.contentType = 'application/json';
  msg.contentEncoding = 'utf-8';
  msg.properties.add('iothub-creation-time-utc', new Date().toISOString());
  msg.properties.add('note', '1+1 = two');
  await client.sendEvent(msg);
  emit('sent', {});

  const twin = await client.getTwin();
  twin.on('properties.desired', (patch) => emit('desired', { patch }));
  emit('twin', { desired: twin.properties.desired });
  await new Promise((resolve, reject) => twin.properties.reported.update({ conformance: { sdk: 'node' } }, (err) => (err ? reject(err) : resolve())));
  emit('reported', {});
  emit('ready', {});

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    switch (line.trim()) {
      case 'close':
        await client.close();
        emit('closed', {});
        break;
      case 'open':
        await client.open();
        emit('opened', {});
        break;
      case 'exit':
        await client.close();
        emit('exited', {});
        process.exit(0);
        break;
      default:
        emit('error', { message: `unknown command ${line}` });
    }
  }
}

main().catch(fail);
