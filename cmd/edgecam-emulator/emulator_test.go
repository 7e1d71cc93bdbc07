package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/internal/testfixture"
)

func TestEmulatorCommandPrintsEndpointsAndStops(t *testing.T) {
	var out, errOut testfixture.LockedBuffer
	root := newRootCmd(nil, &out, &errOut)
	dir := t.TempDir()
	root.SetArgs([]string{"--hub-port", "0", "--dps-port", "0", "--service-port", "0", "--hubs", "2", "--state-dir", dir, "--device", "cam1"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), "device cam1:") {
		select {
		case err := <-done:
			t.Fatalf("emulator ended early: %v\n%s%s", err, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("no endpoint lines:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	text := out.String()
	for _, want := range []string{"hub 1:", "hub 2:", "dps:", "id scope:", "0ne0000DEMO", "ca file:", dir + "/ca.pem", "HostName=127.0.0.1:", "DeviceId=cam1;SharedAccessKey=",
		"service api:", "https://127.0.0.1:", "SharedAccessKeyName=iothubowner;SharedAccessKey=", "service token (24 h):", "&skn=iothubowner"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("emulator returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("emulator did not stop on cancel")
	}
}

func TestEmulatorCommandRejectsBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "cam1=not base64!"}, "base64"},
		{[]string{"--enrollment", "cam1"}, "key is needed"},
		{[]string{"--hubs", "0"}, "at least one hub"},
		{[]string{"--hub-port", "9000", "--hubs", "3", "--dps-port", "9001"}, "collides"},
		{[]string{"--hub-port", "9000", "--dps-port", "9100", "--service-port", "9100"}, "collides"},
		{[]string{"--allocation", "random"}, "evenly, hashed or custom"},
		{[]string{"--allocation", "custom"}, "--webhook"},
		{[]string{"--group-key", "%%%"}, "--group-key"},
	} {
		var out, errOut bytes.Buffer
		root := newRootCmd(nil, &out, &errOut)
		root.SetArgs(append([]string{"--state-dir", t.TempDir()}, c.args...))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}
