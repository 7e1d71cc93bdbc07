// One file upload with the official Node.js device SDK (azure-iot-device) against the emulator,
// driven by upload_test.go: the SDK asks the hub for a blob SAS URI
// (getBlobSharedAccessSignature), the blob is PUT with @azure/storage-blob's BlockBlobClient (the
// SDK's own dependency) to the URL its uploadToBlob builds, https://{hostName}/{containerName}/
// {blobName}{sasToken}, and the SDK notifies the outcome (notifyBlobUploadStatus, which puts the
// correlation ID in the path). The emulator answers a plain-HTTP Azurite with the scheme in
// hostName; that is kept. Events go to stdout as JSON lines.
'use strict';

const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { BlockBlobClient } = require('@azure/storage-blob');

require('./hostport'); // the emulator's host names carry a port

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const emit = (event, fields) => process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');

async function main() {
  const client = Client.fromConnectionString(env('CONNECTION_STRING'), Mqtt);
  const sas = await client.getBlobSharedAccessSignature(env('BLOB_NAME'));
  emit('sas', sas);
  const base = sas.hostName.includes('://') ? sas.hostName : `https://${sas.hostName}`;
  const data = Buffer.from(env('BLOB_DATA'));
  let isSuccess = true;
  let statusCode = 201;
  let statusDescription = 'uploaded';
  try {
    const blob = new BlockBlobClient(`${base}/${sas.containerName}/${sas.blobName}${sas.sasToken}`);
    const res = await blob.upload(data, data.length, { blobHTTPHeaders: { blobContentType: 'text/plain' } });
    statusCode = res._response.status;
  } catch (err) {
    isSuccess = false;
    statusCode = err.statusCode || 500;
    statusDescription = String(err.message);
  }
  await client.notifyBlobUploadStatus(sas.correlationId, isSuccess, statusCode, statusDescription);
  emit('notified', { isSuccess, statusCode });
}

main().then(() => process.exit(0), (err) => {
  emit('error', { message: String(err && err.stack || err) });
  process.exit(1);
});
