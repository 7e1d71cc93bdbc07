package testfixture

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// AzuriteKey is the well-known key of Azurite's development account devstoreaccount1.
const AzuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// Blob is a stored blob as read back from Azurite.
type Blob struct {
	ContentType string
	Meta        map[string]string // keys lower-cased
	Data        []byte
}

// Blobs reads every blob of a container of Azurite's development account, by name; a missing
// container is empty.
func (a *Azurite) Blobs(t testing.TB, containerName string) map[string]Blob {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cred, err := container.NewSharedKeyCredential("devstoreaccount1", AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := container.NewClientWithSharedKeyCredential(a.AccountURL()+"/"+containerName, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Blob{}
	pager := cl.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "ContainerNotFound") {
				return out
			}
			t.Fatalf("listing the blobs of %s: %v", containerName, err)
		}
		for _, b := range page.Segment.BlobItems {
			sb := Blob{Meta: map[string]string{}}
			if b.Properties != nil && b.Properties.ContentType != nil {
				sb.ContentType = *b.Properties.ContentType
			}
			for k, v := range b.Metadata {
				if v != nil {
					sb.Meta[strings.ToLower(k)] = *v
				}
			}
			resp, err := cl.NewBlobClient(*b.Name).DownloadStream(ctx, nil)
			if err != nil {
				t.Fatalf("download %s: %v", *b.Name, err)
			}
			sb.Data, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("download %s: %v", *b.Name, err)
			}
			out[*b.Name] = sb
		}
	}
	return out
}
