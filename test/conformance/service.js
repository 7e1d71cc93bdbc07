// The cloud side with the official Azure IoT Hub service SDK (azure-iothub), driven by
// conformance_test.go: node service.js <twin-get|twin-desired JSON|method NAME JSON> DEVICE_ID.
// The service connection string comes from SERVICE_CONNECTION_STRING. The result is printed as
// one JSON line.
'use strict';

const https = require('https');
const { Client, Registry } = require('azure-iothub');

// The emulator's service API has a port in its host name; the SDK passes the host name to
// https.request as is (real hubs are on 443), so split it off here. Nothing else is changed.
const request = https.request;
https.request = function (options, ...rest) {
  if (options && typeof options.host === 'string' && !options.port) {
    const m = /^(.*):(\d+)$/.exec(options.host);
    if (m) options = { ...options, host: m[1], port: Number(m[2]) };
  }
  return request.call(this, options, ...rest);
};

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
