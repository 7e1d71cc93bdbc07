//go:build tools

// This file pins the project's main dependencies in go.mod before every package that uses them
// exists; it is never built.
package tools

import (
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/knadh/koanf/parsers/yaml"
	_ "github.com/knadh/koanf/providers/env/v2"
	_ "github.com/knadh/koanf/providers/file"
	_ "github.com/knadh/koanf/providers/posflag"
	_ "github.com/knadh/koanf/v2"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/yalue/onnxruntime_go"
	_ "gocv.io/x/gocv"
)
