package iothub

import (
	"fmt"
	"log/slog"
	"strings"
)

// ConnectionString is a parsed IoT Hub device (or module) connection string:
//
//	HostName=myhub.azure-devices.net;DeviceId=cam1;SharedAccessKey=base64...
//
// String and LogValue mask the key, so a ConnectionString can be printed and logged safely.
type ConnectionString struct {
	HostName            string
	DeviceID            string
	ModuleID            string
	SharedAccessKey     string
	SharedAccessKeyName string // policy name (skn) when the key is a shared access policy key
	GatewayHostName     string // IoT Edge gateway to connect through, if any
}

// connection string part names, as the Azure portal spells them.
const (
	partHostName            = "HostName"
	partDeviceID            = "DeviceId"
	partModuleID            = "ModuleId"
	partSharedAccessKey     = "SharedAccessKey"
	partSharedAccessKeyName = "SharedAccessKeyName"
	partGatewayHostName     = "GatewayHostName"
)

// ParseConnectionString parses a device connection string. Parts are ';'-separated name=value
// pairs; values may contain '=' (base64 padding). HostName and SharedAccessKey are required, and
// DeviceId unless the key is a policy key (SharedAccessKeyName, whose device ID then comes from
// elsewhere). Unknown, repeated or empty parts are errors that name the part; the key is never
// part of an error.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	seen := map[string]bool{}
	for i, part := range strings.Split(strings.TrimSpace(s), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue // tolerate a trailing ';'
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return ConnectionString{}, fmt.Errorf("connection string: part %s has no '=' (want Name=value parts separated by ';')", safePartName(name, i))
		}
		var dst *string
		switch name {
		case partHostName:
			dst = &cs.HostName
		case partDeviceID:
			dst = &cs.DeviceID
		case partModuleID:
			dst = &cs.ModuleID
		case partSharedAccessKey:
			dst = &cs.SharedAccessKey
		case partSharedAccessKeyName:
			dst = &cs.SharedAccessKeyName
		case partGatewayHostName:
			dst = &cs.GatewayHostName
		default:
			return ConnectionString{}, fmt.Errorf("connection string: unknown part %s (known: HostName, DeviceId, ModuleId, SharedAccessKey, SharedAccessKeyName, GatewayHostName)", safePartName(name, i))
		}
		if seen[name] {
			return ConnectionString{}, fmt.Errorf("connection string: %s appears twice", name)
		}
		seen[name] = true
		if name != partSharedAccessKey {
			value = strings.TrimSpace(value)
		}
		if value == "" {
			return ConnectionString{}, fmt.Errorf("connection string: %s is empty", name)
		}
		*dst = value
	}
	switch {
	case cs.HostName == "":
		return ConnectionString{}, fmt.Errorf("connection string: %s is missing (copy the device's primary connection string from the Azure portal)", partHostName)
	case cs.SharedAccessKey == "":
		return ConnectionString{}, fmt.Errorf("connection string: %s is missing (X.509 devices are not supported)", partSharedAccessKey)
	case cs.DeviceID == "" && cs.SharedAccessKeyName == "":
		return ConnectionString{}, fmt.Errorf("connection string: %s is missing", partDeviceID)
	}
	if _, err := decodeKey(cs.SharedAccessKey); err != nil {
		return ConnectionString{}, fmt.Errorf("connection string: %s: %w", partSharedAccessKey, err)
	}
	return cs, nil
}

// safePartName returns name for an error message when it looks like a part name. Anything else
// may be a piece of the key in the wrong place and must not end up in a log.
func safePartName(name string, index int) string {
	ok := name != "" && len(name) <= 32
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			ok = false
			break
		}
	}
	if ok {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("number %d", index+1)
}

// String renders the connection string with the key masked.
func (cs ConnectionString) String() string {
	var b strings.Builder
	add := func(name, value string) {
		if value == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(name + "=" + value)
	}
	add(partHostName, cs.HostName)
	add(partDeviceID, cs.DeviceID)
	add(partModuleID, cs.ModuleID)
	add(partSharedAccessKeyName, cs.SharedAccessKeyName)
	add(partSharedAccessKey, mask(cs.SharedAccessKey))
	add(partGatewayHostName, cs.GatewayHostName)
	return b.String()
}

// GoString is String, for %#v.
func (cs ConnectionString) GoString() string { return cs.String() }

// LogValue implements slog.LogValuer with the key masked.
func (cs ConnectionString) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("host", cs.HostName), slog.String("device", cs.DeviceID)}
	if cs.ModuleID != "" {
		attrs = append(attrs, slog.String("module", cs.ModuleID))
	}
	if cs.SharedAccessKeyName != "" {
		attrs = append(attrs, slog.String("keyName", cs.SharedAccessKeyName))
	}
	if cs.GatewayHostName != "" {
		attrs = append(attrs, slog.String("gateway", cs.GatewayHostName))
	}
	return slog.GroupValue(attrs...)
}

// DeviceOptions returns client options for the identity in the connection string; the caller
// adds model ID, CA file, handlers and so on.
func (cs ConnectionString) DeviceOptions() Options {
	return Options{
		Host:     cs.HostName,
		Gateway:  cs.GatewayHostName,
		DeviceID: cs.DeviceID,
		ModuleID: cs.ModuleID,
		Key:      cs.SharedAccessKey,
		KeyName:  cs.SharedAccessKeyName,
	}
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "****"
}
