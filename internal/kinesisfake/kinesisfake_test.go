package kinesisfake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/kinesisfake"
)

func newClient(t *testing.T, fake *kinesisfake.Server) *kinesis.Client {
	t.Helper()
	return kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(fake.URL()),
		RetryMaxAttempts: 1, // the tests see every injected fault themselves
	})
}

func entries(n int, data func(i int) string) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{Data: []byte(data(i)), PartitionKey: aws.String(fmt.Sprintf("key-%d", i))}
	}
	return out
}

func apiErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestFake(t *testing.T) {
	ctx := context.Background()

	t.Run("stores records the SDK puts, with data bytes intact", func(t *testing.T) {
		fake := kinesisfake.Start("events")
		defer fake.Close()
		client := newClient(t, fake)
		out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: entries(3, func(i int) string { return fmt.Sprintf("{\"n\":%d}\n", i) })})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 3 || aws.ToString(out.Records[0].SequenceNumber) == "" || aws.ToString(out.Records[0].ShardId) == "" {
			t.Fatalf("unexpected output %+v", out)
		}
		got := fake.Records("events")
		if len(got) != 3 || string(got[2].Data) != "{\"n\":2}\n" || got[2].PartitionKey != "key-2" {
			t.Fatalf("stored %+v", got)
		}
		if fake.Calls("PutRecords") != 1 {
			t.Fatalf("PutRecords calls = %d", fake.Calls("PutRecords"))
		}
	})

	t.Run("finds a stream by ARN", func(t *testing.T) {
		fake := kinesisfake.Start("events")
		defer fake.Close()
		_, err := newClient(t, fake).PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/events"), Records: entries(1, func(int) string { return "x" })})
		if err != nil {
			t.Fatal(err)
		}
		if len(fake.Records("events")) != 1 {
			t.Fatal("record not stored")
		}
	})

	t.Run("enforces Kinesis PutRecords limits", func(t *testing.T) {
		fake := kinesisfake.Start("events")
		defer fake.Close()
		client := newClient(t, fake)
		big := strings.Repeat("x", 900<<10)
		cases := []struct {
			name    string
			records []types.PutRecordsRequestEntry
			code    string
		}{
			{"more than 500 records", entries(501, func(int) string { return "x" }), "ValidationException"},
			{"record over 1 MiB", entries(1, func(int) string { return big + big }), "ValidationException"},
			{"call over 5 MiB", entries(6, func(int) string { return big }), "InvalidArgumentException"},
			{"empty partition key", []types.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String("")}}, "ValidationException"},
		}
		for _, tc := range cases {
			_, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: tc.records})
			if got := apiErrorCode(err); got != tc.code {
				t.Errorf("%s: error code %q (%v), want %s", tc.name, got, err, tc.code)
			}
		}
		if n := len(fake.Records("events")); n != 0 {
			t.Fatalf("%d records stored from refused calls", n)
		}
	})

	t.Run("unknown stream answers ResourceNotFoundException", func(t *testing.T) {
		fake := kinesisfake.Start()
		defer fake.Close()
		client := newClient(t, fake)
		_, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("missing"), Records: entries(1, func(int) string { return "x" })})
		var notFound *types.ResourceNotFoundException
		if !errors.As(err, &notFound) {
			t.Fatalf("PutRecords error %v, want ResourceNotFoundException", err)
		}
		_, err = client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("missing")})
		if !errors.As(err, &notFound) {
			t.Fatalf("DescribeStreamSummary error %v, want ResourceNotFoundException", err)
		}
	})

	t.Run("describes stream status as set", func(t *testing.T) {
		fake := kinesisfake.Start()
		defer fake.Close()
		client := newClient(t, fake)
		for _, status := range []string{kinesisfake.StatusCreating, kinesisfake.StatusActive, kinesisfake.StatusUpdating} {
			fake.SetStreamStatus("events", status)
			out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("events")})
			if err != nil {
				t.Fatal(err)
			}
			s := out.StreamDescriptionSummary
			if string(s.StreamStatus) != status || aws.ToString(s.StreamName) != "events" || s.StreamCreationTimestamp == nil || aws.ToInt32(s.OpenShardCount) == 0 {
				t.Fatalf("summary %+v, want status %s", s, status)
			}
		}
		fake.SetStreamStatus("events", "")
		if _, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("events")}); apiErrorCode(err) != "ResourceNotFoundException" {
			t.Fatalf("deleted stream: error %v", err)
		}
	})

	t.Run("a stream being created refuses records", func(t *testing.T) {
		fake := kinesisfake.Start()
		defer fake.Close()
		fake.SetStreamStatus("events", kinesisfake.StatusCreating)
		_, err := newClient(t, fake).PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: entries(1, func(int) string { return "x" })})
		if apiErrorCode(err) != "ResourceInUseException" {
			t.Fatalf("error %v, want ResourceInUseException", err)
		}
	})

	t.Run("fails matching entries for the next N calls only", func(t *testing.T) {
		fake := kinesisfake.Start("events")
		defer fake.Close()
		client := newClient(t, fake)
		fake.FailEntries(2, "ProvisionedThroughputExceededException", func(data []byte) bool { return bytes.Contains(data, []byte("odd")) })
		data := func(i int) string {
			if i%2 == 1 {
				return fmt.Sprintf("odd %d", i)
			}
			return fmt.Sprintf("even %d", i)
		}
		for call := 1; call <= 3; call++ {
			out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: entries(4, data)})
			if err != nil {
				t.Fatal(err)
			}
			wantFailed := int32(2)
			if call == 3 {
				wantFailed = 0
			}
			if aws.ToInt32(out.FailedRecordCount) != wantFailed {
				t.Fatalf("call %d: FailedRecordCount %d, want %d", call, aws.ToInt32(out.FailedRecordCount), wantFailed)
			}
			if call < 3 && (aws.ToString(out.Records[1].ErrorCode) != "ProvisionedThroughputExceededException" || out.Records[0].ErrorCode != nil) {
				t.Fatalf("call %d: entries %+v", call, out.Records)
			}
		}
		if n := len(fake.Records("events")); n != 2+2+4 {
			t.Fatalf("stored %d records, want 8", n)
		}
	})

	t.Run("fails whole calls for the next N calls only", func(t *testing.T) {
		fake := kinesisfake.Start("events")
		defer fake.Close()
		client := newClient(t, fake)
		fake.FailCalls(1, 400, "ThrottlingException")
		fake.FailCalls(1, 500, "InternalFailure")
		for _, want := range []string{"ThrottlingException", "InternalFailure", ""} {
			_, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: entries(1, func(int) string { return "x" })})
			if got := apiErrorCode(err); got != want {
				t.Fatalf("error code %q (%v), want %q", got, err, want)
			}
		}
		if fake.Calls("PutRecords") != 3 || len(fake.Records("events")) != 1 {
			t.Fatalf("calls %d, records %d", fake.Calls("PutRecords"), len(fake.Records("events")))
		}
	})

	t.Run("spreads partition keys over shards by MD5", func(t *testing.T) {
		fake := kinesisfake.Start("events")
		defer fake.Close()
		if _, err := newClient(t, fake).PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: entries(200, func(int) string { return "x" })}); err != nil {
			t.Fatal(err)
		}
		shards := map[string]int{}
		for _, r := range fake.Records("events") {
			shards[r.ShardID]++
		}
		if len(shards) != 4 {
			t.Fatalf("records landed on shards %v, want all 4", shards)
		}
	})
}
