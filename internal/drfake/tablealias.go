package drfake

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// TableAlias is a DynamoDB endpoint in front of upstream (dynalite) on
// which the table name is stored as alias: a package's tests share one
// dynalite, each test with its own tables, while the code under test uses
// the real name (the same in both regions). Requests name the table in
// their JSON as a quoted string (TableName, RequestItems keys), answers
// the same way and in table ARNs; the answer's X-Amz-Crc32 is recomputed
// over the rewritten body, as the SDK checks it.
func TableAlias(tb testing.TB, upstream, name, alias string) string {
	proxy := newProxy(tb, upstream)
	quoted := func(s string) []byte { return []byte(strconv.Quote(s)) }
	proxy.ModifyResponse = func(r *http.Response) error {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return err
		}
		body = bytes.ReplaceAll(body, quoted(alias), quoted(name))
		body = bytes.ReplaceAll(body, []byte("table/"+alias+`"`), []byte("table/"+name+`"`))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Header.Get("X-Amz-Crc32") != "" {
			r.Header.Set("X-Amz-Crc32", fmt.Sprint(crc32.ChecksumIEEE(body)))
		}
		return nil
	}
	return awsfake.Serve(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = bytes.ReplaceAll(body, quoted(name), quoted(alias))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		// The SDK signed the original body; dynalite checks no signature.
		proxy.ServeHTTP(w, r)
	})).URL
}
