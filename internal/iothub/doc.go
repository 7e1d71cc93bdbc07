// Package iothub is an Azure IoT Hub device client and a Device Provisioning Service (DPS)
// registration client over MQTT 3.1.1 on TLS, in pure Go (paho.mqtt.golang).
//
// A device connects with a connection string (ParseConnectionString, then
// ConnectionString.DeviceOptions) or through DPS (Register / RegisterCached, then
// Assignment.DeviceOptions), and Dial returns a Client that keeps itself connected: it renews
// its SAS token before expiry by reconnecting after in-flight messages are acknowledged,
// reconnects with exponential backoff and jitter after a drop, and subscribes again on every
// connection. SendTelemetry returns once the hub acknowledged the message, or ErrNotConnected
// while the client is between connections, so the caller can keep the message and retry.
// Direct methods, desired-property patches and cloud-to-device messages reach the handlers in
// Options; GetTwin and UpdateReported read and patch the twin.
//
// The hub connection uses a persistent session (CleanSession 0, as the official SDKs do), so
// cloud-to-device messages sent while the device was away arrive on reconnect, possibly before
// the client subscribed again: paho hands those to the same handler. Options.Transport picks
// MQTT on 8883 or MQTT over WebSockets on 443; a module identity (ModuleID) gets methods and
// the twin, not cloud-to-device messages.
//
// When the hub refuses the credentials (ErrNotAuthorized, from Dial or later from Client.Err),
// or stays unreachable (ErrUnreachable, with Options.UnreachableAfter), a device provisioned
// through DPS registers again (RegisterCached with force).
//
// Keys never appear in errors or logs: ConnectionString, Options and DPSOptions mask them in
// String and LogValue.
package iothub
