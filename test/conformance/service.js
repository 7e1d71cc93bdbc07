// The cloud side with the official Azure IoT Hub service SDK (azure-iothub), driven by
// conformance_test.go: node service.js <twin-get|twin-desired JSON|method NAME JSON> DEVICE_ID.
// The service connection string comes from SERVICE_CONNECTION_STRING. The result is printed as
// one JSON line.
'use strict';

const { Client, Registry } = require('azure-iothub');

require('./hostport'); // the emulator's host names carry a port

async function main() {
  const [cmd, deviceId, a, b] = process.argv.slice(2);
  const cs = process.env.SERVICE_CONNECTION_STRING;
  if (!cs || !deviceId) throw new Error('usage: SERVICE_CONNECTION_STRING=... node service.js twin-get|twin-desired|method DEVICE_ID [...]');
  const registry = Registry.fromConnectionString(cs);
  switch (cmd) {
    case 'twin-get': {
      const { responseBody } = await registry.getTwin(deviceId);
      return { deviceId: responseBody.deviceId, etag: responseBody.etag, properties: responseBody.properties };
    }
    case 'twin-desired': {
      const { responseBody: twin } = await registry.getTwin(deviceId);
      const { responseBody } = await registry.updateTwin(deviceId, { properties: { desired: JSON.parse(a) } }, twin.etag);
      return { properties: responseBody.properties };
    }
    case 'method': {
      const client = Client.fromConnectionString(cs);
      const { result } = await client.invokeDeviceMethod(deviceId, { methodName: a, payload: JSON.parse(b), responseTimeoutInSeconds: 30 });
      return result;
    }
  }
  throw new Error(`unknown command ${cmd}`);
}

main().then((r) => {
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
}, (err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
