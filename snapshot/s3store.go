package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/warder/warder"
)

// S3Config names an S3-compatible bucket and how to reach it.
type S3Config struct {
	// Endpoint is the server's URL ("https://s3.example.com",
	// "http://127.0.0.1:8333"); empty for AWS itself.
	Endpoint string
	Region   string // "us-east-1" when empty
	Bucket   string
	// Prefix goes before every key ("warder/snapshots/"), so one bucket
	// can hold other things too.
	Prefix    string
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key)
	// rather than the host name; most S3-compatible servers (SeaweedFS,
	// MinIO, Ceph) want it.
	PathStyle bool
	// PartSize is the size of one part of a multipart upload (5 MiB at
	// least; 8 MiB when 0). A Put holds at most two parts in memory, and an
	// object has at most 10,000 parts: 8 MiB parts allow 80 GB.
	PartSize int64
	// HTTPClient sends the requests; the SDK's default when nil.
	HTTPClient *http.Client
}

const (
	defaultPartSize = 8 << 20
	minPartSize     = 5 << 20
	maxParts        = 10000
)

// S3Store keeps objects in an S3-compatible bucket under a prefix. A Put
// of more than one part is a multipart upload, which the server shows
// under its key only once completed; a Put that fails aborts it, and
// RemoveIncomplete aborts those a crash left.
type S3Store struct {
	cfg      S3Config
	cli      *s3.Client
	bucket   string
	prefix   string
	partSize int64
}

var _ Store = (*S3Store)(nil)

// NewS3Store checks cfg and returns a store over its bucket; it contacts
// no server (CreateBucket or the first call does).
func NewS3Store(cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, warder.Errorf(warder.ErrInvalid, "snapshot store: S3 needs a bucket, an access key and a secret key")
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = defaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, warder.Errorf(warder.ErrInvalid, "snapshot store: S3 part size must be at least %d bytes", minPartSize)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	opts := s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		UsePathStyle: cfg.PathStyle,
		// The snapshot carries its own SHA-256; CRC trailers (the SDK's
		// default) are extra work, and not every S3-compatible server
		// takes them.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	return &S3Store{cfg: cfg, cli: s3.New(opts), bucket: cfg.Bucket, prefix: cfg.Prefix, partSize: cfg.PartSize}, nil
}

// CreateBucket makes the bucket; one that exists already is success.
func (s *S3Store) CreateBucket(ctx context.Context) error {
	_, err := s.cli.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err == nil || errors.As(err, &owned) {
		return nil
	}
	return fmt.Errorf("snapshot store: create bucket %s: %w", s.bucket, err)
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, ObjectInfo{}, err
	}
	out, err := s.cli.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil {
		return nil, ObjectInfo{}, s.err(key, err)
	}
	return out.Body, ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Stat implements Store.
func (s *S3Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil {
		return ObjectInfo{}, s.err(key, err)
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List implements Store.
func (s *S3Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(s.cli, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.err(prefix, err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if checkKey(key) != nil {
				continue // not one of ours (a directory marker, say)
			}
			out = append(out, ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Delete implements Store (S3 answers a missing key with success too).
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if err != nil && !errors.Is(s.err(key, err), warder.ErrNotFound) {
		return s.err(key, err)
	}
	return nil
}

// RemoveIncomplete implements Store: it aborts the multipart uploads
// under the prefix initiated before before.
func (s *S3Store) RemoveIncomplete(ctx context.Context, before time.Time) (int, error) {
	n := 0
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: aws.String(s.prefix)}
	for {
		page, err := s.cli.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, s.err("", err)
		}
		for _, u := range page.Uploads {
			if !aws.ToTime(u.Initiated).Before(before) {
				continue
			}
			_, err := s.cli.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId})
			if err != nil && !errors.Is(s.err("", err), warder.ErrNotFound) {
				return n, s.err(aws.ToString(u.Key), err)
			}
			n++
		}
		if !aws.ToBool(page.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// err turns the server's "no such key/upload" into warder.ErrNotFound.
func (s *S3Store) err(key string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return warder.Errorf(warder.ErrNotFound, "snapshot store: %s not found", key)
		}
	}
	return fmt.Errorf("snapshot store: %s: %w", key, err)
}
