// Package upload sends camera images to Azure Blob Storage with IoT Hub file upload: per image,
// the hub hands out a blob SAS URI, the image is PUT there as a block blob (the Azure SDK's blob
// client) and the hub is told the outcome. Images wait in a byte-bounded on-disk spool while the
// hub or the storage account is unreachable, and are sent oldest first once they are back; the
// uploader runs on its own, so tallies never wait behind images.
package upload

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/edgecam/edgecam/internal/iothub"
	"github.com/edgecam/edgecam/internal/redact"
	"github.com/edgecam/edgecam/internal/spool"
)

// ContentType is the content type of every uploaded image.
const ContentType = "image/jpeg"

// Metadata keys of an uploaded blob.
const (
	MetaCaptureTime = "captureTime" // RFC 3339, UTC, milliseconds
	MetaTally       = "tally"       // the tally as JSON, e.g. {"bus":1,"person":4}
	MetaCamera      = "camera"      // the camera (device) ID
)

// BlobName is the name an image captured at t is requested under; IoT Hub stores it as
// {deviceId}/{name} in its container: "cam1/20260102T030405.678Z.jpg" (UTC, sorts by time).
func BlobName(t time.Time) string {
	return t.UTC().Format("20060102T150405.000Z") + ".jpg"
}

// Send uploads one image: SAS URI from the hub, PUT of the blob, then the outcome notification,
// which is sent after a failed PUT too. It returns the blob's name in the container.
func Send(ctx context.Context, fu *iothub.FileUpload, camera string, img Image) (string, error) {
	sas, err := fu.RequestSAS(ctx, BlobName(img.Time))
	if err != nil {
		return "", err
	}
	status, putErr := put(ctx, fu, sas, camera, img)
	outcome := iothub.UploadOutcome{CorrelationID: sas.CorrelationID, IsSuccess: putErr == nil, StatusCode: status, StatusDescription: "uploaded"}
	if putErr != nil {
		outcome.StatusDescription = truncate(putErr.Error(), 500)
	}
	// The hub must hear the outcome even when the daemon is stopping.
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	notifyErr := fu.Notify(nctx, outcome)
	if putErr != nil {
		return "", fmt.Errorf("upload of blob %s: %w", sas.BlobName, errors.Join(putErr, notifyErr))
	}
	if notifyErr != nil {
		// The blob is stored; only the hub's notification to the back end is lost.
		return sas.BlobName, fmt.Errorf("blob %s stored, but %w", sas.BlobName, errNotify{notifyErr})
	}
	return sas.BlobName, nil
}

// errNotify marks a stored blob whose notification failed: not worth uploading again.
type errNotify struct{ err error }

func (e errNotify) Error() string { return e.err.Error() }
func (e errNotify) Unwrap() error { return e.err }

// Stored reports whether an error from Send still left the blob stored.
func Stored(err error) bool {
	var n errNotify
	return err == nil || errors.As(err, &n)
}

// put writes the blob with the SDK's block blob client (one Put Blob, x-ms-blob-type: BlockBlob)
// and returns the HTTP status for the notification.
func put(ctx context.Context, fu *iothub.FileUpload, sas iothub.BlobSAS, camera string, img Image) (int, error) {
	cl, err := blockblob.NewClientWithNoCredential(sas.URL(), &blockblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: fu.BlobHTTPClient(),
		Retry:     policy.RetryOptions{MaxRetries: -1}, // the uploader retries the whole upload
	}})
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("blob URL from the hub: %w", err)
	}
	ct := ContentType
	captured := img.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	meta := map[string]*string{MetaCaptureTime: &captured, MetaCamera: &camera}
	if len(img.Tally) > 0 {
		t := asciiJSON(img.Tally)
		meta[MetaTally] = &t
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = cl.Upload(pctx, streaming.NopCloser(bytes.NewReader(img.JPEG)), &blockblob.UploadOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct},
		Metadata:    meta,
	})
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return re.StatusCode, fmt.Errorf("storage answered %d %s", re.StatusCode, re.ErrorCode)
		}
		// The transport error quotes the blob URL with its SAS signature: masked before it is logged.
		return http.StatusServiceUnavailable, fmt.Errorf("storage unreachable: %w", redact.Error(err))
	}
	return http.StatusCreated, nil
}

// asciiJSON escapes non-ASCII characters (custom class names) so the JSON fits an HTTP header.
func asciiJSON(b []byte) string {
	var sb strings.Builder
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			sb.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&sb, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Target returns the current file-upload client (nil while there is none) and a channel that
// is closed when it changes.
type Target func() (*iothub.FileUpload, <-chan struct{})

// Uploader sends a camera's spooled images, oldest first, and removes each once stored.
type Uploader struct {
	Camera string
	Spool  *Spool
	Target Target
	Log    *slog.Logger // nil: slog.Default()
	// OnUpload, when set, is called after each attempt with the error (nil: stored).
	OnUpload func(err error)
	// MaxBackoff bounds the wait between failed attempts (default 5 min).
	MaxBackoff time.Duration
}

// Run uploads until ctx ends.
func (u *Uploader) Run(ctx context.Context) {
	log := u.Log
	if log == nil {
		log = slog.Default()
	}
	f := &spool.Forwarder{
		Spool: u.Spool.Spool,
		Target: func() (spool.Send, <-chan struct{}) {
			fu, changed := u.Target()
			if fu == nil {
				return nil, changed
			}
			return func(ctx context.Context, it spool.Item) error {
				img := itemImage(it)
				name, err := Send(ctx, fu, u.Camera, img)
				switch {
				case err == nil:
					log.Info("image uploaded", "blob", name, "bytes", len(img.JPEG), "waiting", u.Spool.Len()-1)
				case Stored(err):
					log.Warn("image stored, but the hub was not notified", "blob", name, "err", err)
				}
				return err
			}, changed
		},
		Max:       cmp.Or(u.MaxBackoff, 5*time.Minute),
		Delivered: Stored,
		Failed:    "image upload failed; the image waits on disk",
		Resumed:   "uploading images again",
		Log:       log,
	}
	if u.OnUpload != nil {
		f.After = func(_ spool.Item, err error) { u.OnUpload(err) }
	}
	f.Run(ctx)
}
