// The emulator's host names carry their port; the SDKs pass the host name to https.request as is
// (real hubs are on 443), so split it off. Nothing else is changed. Required for its effect.
'use strict';

const https = require('https');

const request = https.request;
https.request = function (options, ...rest) {
  if (options && typeof options.host === 'string' && !options.port) {
    const m = /^(.*):(\d+)$/.exec(options.host);
    if (m) options = { ...options, host: m[1], port: Number(m[2]) };
  }
  return request.call(this, options, ...rest);
};
