package config

import "strings"

// Kind is one kind of camera source: its cameras[].type name, the keys it reads besides id and
// type, and a line of help. Kinds is the one list of them: validation, camera.New's errors, the
// capture command's help and the DTDL model's text read it. A new kind is a row here (with the
// function that checks its keys), a file in internal/camera and an arm in camera.New's switch (a
// test feeds every row to camera.New).
type Kind struct {
	Name string
	Keys string
	Help string
	// check validates the kind's own keys (validation of cameras[].type calls it).
	check func(cam *Camera, p *problems, key string)
}

// Kinds lists every camera kind, in the order the help shows them.
var Kinds = []Kind{
	{TypeRPi, "rotation, width, height, args, command", "Raspberry Pi camera via rpicam-still (or libcamera-still/libcamera-jpeg)", checkRPi},
	{TypeHTTP, "url, username, password, auth, redirects", "snapshot URL with Basic or Digest authentication", checkHTTP},
	{TypeRTSP, "url (credentials in it or username, password), transport, maxFrameAge", "H.264 or H.265 RTSP stream", checkRTSP},
	{TypeFile, "path", "an image file", checkFileKind},
}

// KindNames returns the kinds' names in table order.
func KindNames() []string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.Name
	}
	return names
}

// KindList words the kinds' names for a message: "rpi, http, rtsp or file" (or "a|b|c" with
// sep "|").
func KindList(sep string) string {
	names := KindNames()
	if sep != "" {
		return strings.Join(names, sep)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// IsKind reports whether name (lower case) is a camera kind.
func IsKind(name string) bool { return kindNamed(name).Name != "" }

// kindNamed returns the kind called name (the zero Kind when there is none).
func kindNamed(name string) Kind {
	for _, k := range Kinds {
		if k.Name == name {
			return k
		}
	}
	return Kind{}
}
