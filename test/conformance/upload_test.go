package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/edgecam/edgecam/internal/emulator"
	"github.com/edgecam/edgecam/internal/testfixture"
	"github.com/edgecam/edgecam/internal/testfixture/emutest"
)

// TestNodeSDKFileUpload: the official Node.js device SDK's file-upload calls (SAS request, then the
// outcome notification with the correlation ID in the path) work against the emulator, and the
// blob it PUTs with the SAS URI lands in Azurite.
func TestNodeSDKFileUpload(t *testing.T) {
	bin := node(t)
	if _, err := os.Stat("node_modules/@azure/storage-blob/package.json"); err != nil {
		t.Fatalf("@azure/storage-blob (a dependency of azure-iot-device) is missing: %v", err)
	}
	az := testfixture.StartAzurite(t)
	const key = "bm9kZS1zZGstZmlsZS11cGxvYWQta2V5LTAxMjM0NTY3ODk="
	e := emutest.Start(t, emulator.Config{
		StateDir:   t.TempDir(),
		Devices:    []emulator.Device{{ID: "node-cam", Key: key}},
		FileUpload: emulator.FileUploadConfig{BlobURL: az.AccountURL()},
	})
	cs, err := e.ConnectionString("node-cam")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	cmd := exec.CommandContext(ctx, bin, "upload.js")
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+e.CAFile(), "CONNECTION_STRING="+cs,
		"BLOB_NAME=hello.txt", "BLOB_DATA=hello from the Node.js SDK")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("upload.js: %v\n%s\n%s", err, out, stderr.String())
	}
	events := map[string]map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			events[ev["event"].(string)] = ev
		}
	}
	if n := events["notified"]; n == nil || n["isSuccess"] != true || n["statusCode"] != float64(201) {
		t.Fatalf("upload.js events %v\n%s", events, stderr.String())
	}
	ups := e.FileUploads()
	if len(ups) != 1 || ups[0].BlobName != "node-cam/hello.txt" || !ups[0].Notified || !ups[0].IsSuccess || ups[0].StatusCode != 201 {
		t.Fatalf("emulator saw %+v", ups)
	}
	b, ok := az.Blobs(t, emulator.DefaultBlobContainer)["node-cam/hello.txt"]
	if !ok || string(b.Data) != "hello from the Node.js SDK" || b.ContentType != "text/plain" {
		t.Fatalf("blob in Azurite: %v %+v", ok, b)
	}
}
