package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/warder/warder"
)

// abortTimeout bounds the abort of a failed upload, which runs on a
// context of its own (the caller's may be what ended the upload).
const abortTimeout = 30 * time.Second

// Put implements Store. An object that fits in one part is one PutObject;
// a longer one is a multipart upload of unknown length, reading part n+1
// from r while part n is sent (two part buffers in all).
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	k := aws.String(s.prefix + key)
	first, eof, err := readPart(ctxReader{ctx, r}, s.partSize)
	if err != nil {
		return 0, err
	}
	if eof {
		_, err := s.cli.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: k, Body: bytes.NewReader(first), ContentLength: aws.Int64(int64(len(first)))})
		if err != nil {
			return 0, s.err(key, err)
		}
		return int64(len(first)), nil
	}
	up, err := s.cli.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: k})
	if err != nil {
		return 0, s.err(key, err)
	}
	total, err := s.uploadParts(ctx, k, up.UploadId, first, r)
	if err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, _ = s.cli.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: k, UploadId: up.UploadId})
		return 0, err
	}
	return total, nil
}

// readPart reads up to max bytes of r, in a buffer that grows as they
// come (a manifest of a few hundred bytes takes no 8 MiB part), and says
// whether r ended first.
func readPart(r io.Reader, max int64) (buf []byte, eof bool, err error) {
	buf = make([]byte, 0, min(max, 64<<10))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) == max {
				return buf, false, nil
			}
			buf = append(make([]byte, 0, min(max, 4*int64(cap(buf)))), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// part is one part read from the stream, for the sender.
type part struct {
	num  int32
	data []byte
}

// uploadParts sends first and the rest of r as the upload's parts and
// completes it. One goroutine sends while this one reads the next part.
func (s *S3Store) uploadParts(ctx context.Context, key, uploadID *string, first []byte, r io.Reader) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan []byte, 2) // room for both buffers: the sender never blocks on it
	free <- make([]byte, s.partSize)
	todo := make(chan part)
	sent := make(chan []types.CompletedPart, 1)
	sendErr := make(chan error, 1)
	go func() {
		var done []types.CompletedPart
		for p := range todo {
			out, err := s.cli.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.bucket, Key: key, UploadId: uploadID,
				PartNumber: aws.Int32(p.num), Body: bytes.NewReader(p.data), ContentLength: aws.Int64(int64(len(p.data)))})
			if err != nil {
				sendErr <- s.err(aws.ToString(key), err)
				cancel()
				for range todo { // let the reader stop
				}
				return
			}
			done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(p.num)})
			free <- p.data[:cap(p.data)]
		}
		sent <- done
	}()
	total, readErr := s.readParts(ctx, first, r, free, todo)
	if readErr != nil {
		cancel() // the sender stops too; the stream's own error is the one to return
	}
	close(todo)
	select {
	case err := <-sendErr:
		if readErr != nil {
			return 0, readErr
		}
		return 0, err
	case done := <-sent:
		if readErr != nil {
			return 0, readErr
		}
		_, err := s.cli.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.bucket, Key: key, UploadId: uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		if err != nil {
			return 0, s.err(aws.ToString(key), err)
		}
		return total, nil
	}
}

// readParts cuts r into parts (first is part 1, already full) and hands
// them to the sender, each in a buffer from free.
func (s *S3Store) readParts(ctx context.Context, first []byte, r io.Reader, free chan []byte, todo chan<- part) (int64, error) {
	total := int64(len(first))
	select {
	case todo <- part{1, first}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	for num := int32(2); ; num++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		n, err := io.ReadFull(ctxReader{ctx, r}, buf)
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return 0, err
		}
		if n == 0 {
			return total, nil
		}
		if num > maxParts {
			return 0, warder.Errorf(warder.ErrTooLarge, "snapshot store: object over %d parts of %d bytes", maxParts, s.partSize)
		}
		total += int64(n)
		select {
		case todo <- part{num, buf[:n]}:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if eof {
			return total, nil
		}
	}
}
