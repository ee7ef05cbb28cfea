package gluefake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/gluefake"
)

const db, tbl = "dr_analytics", "raw"

// fullDescriptor sets every StorageDescriptor member, so a round trip proves
// the fake's wire names match the SDK's.
func fullDescriptor() types.StorageDescriptor {
	return types.StorageDescriptor{
		AdditionalLocations: []string{"s3://extra/"},
		BucketColumns:       []string{"id"},
		Columns: []types.Column{
			{Name: aws.String("id"), Type: aws.String("string"), Comment: aws.String("event id"), Parameters: map[string]string{"p": "v"}},
			{Name: aws.String("value"), Type: aws.String("bigint")},
		},
		Compressed:      true,
		InputFormat:     aws.String("org.apache.hadoop.mapred.TextInputFormat"),
		Location:        aws.String("s3://bucket/raw/"),
		NumberOfBuckets: 4,
		OutputFormat:    aws.String("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
		Parameters:      map[string]string{"classification": "json"},
		SchemaReference: &types.SchemaReference{
			SchemaId:            &types.SchemaId{RegistryName: aws.String("reg"), SchemaName: aws.String("events")},
			SchemaVersionNumber: aws.Int64(3),
		},
		SerdeInfo: &types.SerDeInfo{
			SerializationLibrary: aws.String("org.openx.data.jsonserde.JsonSerDe"),
			Parameters:           map[string]string{"ignore.malformed.json": "true"},
		},
		SkewedInfo:             &types.SkewedInfo{SkewedColumnNames: []string{"id"}, SkewedColumnValueLocationMaps: map[string]string{"a": "s3://b/"}},
		SortColumns:            []types.Order{{Column: aws.String("id"), SortOrder: 1}},
		StoredAsSubDirectories: true,
	}
}

func newCatalog(t *testing.T) (*gluefake.Server, *glue.Client) {
	t.Helper()
	srv := gluefake.New(t)
	srv.AddTable(db, tbl, []string{"year", "month"}, fullDescriptor())
	return srv, srv.Client()
}

func partitionInput(location string, values ...string) types.PartitionInput {
	sd := fullDescriptor()
	sd.Location = aws.String(location)
	return types.PartitionInput{Values: values, StorageDescriptor: &sd}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestGetTable(t *testing.T) {
	_, client := newCatalog(t)
	ctx := context.Background()

	t.Run("returns the seeded keys and storage descriptor", func(t *testing.T) {
		out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(db), Name: aws.String(tbl)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range out.Table.PartitionKeys {
			keys = append(keys, aws.ToString(k.Name))
		}
		if !reflect.DeepEqual(keys, []string{"year", "month"}) {
			t.Errorf("partition keys %v", keys)
		}
		if want := fullDescriptor(); !reflect.DeepEqual(*out.Table.StorageDescriptor, want) {
			t.Errorf("storage descriptor\n got %+v\nwant %+v", *out.Table.StorageDescriptor, want)
		}
		if !out.Table.CreateTime.Equal(gluefake.Epoch) {
			t.Errorf("create time %v, want %v", out.Table.CreateTime, gluefake.Epoch)
		}
	})
	for name, in := range map[string]*glue.GetTableInput{
		"unknown table answers EntityNotFoundException":    {DatabaseName: aws.String(db), Name: aws.String("nope")},
		"unknown database answers EntityNotFoundException": {DatabaseName: aws.String("nope"), Name: aws.String(tbl)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.GetTable(ctx, in)
			var notFound *types.EntityNotFoundException
			if !errors.As(err, &notFound) {
				t.Fatalf("error %v, want EntityNotFoundException", err)
			}
		})
	}
}

func TestBatchCreatePartition(t *testing.T) {
	ctx := context.Background()

	t.Run("creates partitions that GetPartition then returns", func(t *testing.T) {
		srv, client := newCatalog(t)
		out, err := client.BatchCreatePartition(ctx, &glue.BatchCreatePartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl),
			PartitionInputList: []types.PartitionInput{partitionInput("s3://b/raw/year=2026/month=01/", "2026", "01")},
		})
		if err != nil || len(out.Errors) != 0 {
			t.Fatalf("BatchCreatePartition: %v, errors %+v", err, out)
		}
		got, err := client.GetPartition(ctx, &glue.GetPartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: []string{"2026", "01"},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := fullDescriptor()
		want.Location = aws.String("s3://b/raw/year=2026/month=01/")
		if !reflect.DeepEqual(*got.Partition.StorageDescriptor, want) {
			t.Errorf("partition storage descriptor\n got %+v\nwant %+v", *got.Partition.StorageDescriptor, want)
		}
		if !reflect.DeepEqual(srv.PartitionValues(db, tbl), [][]string{{"2026", "01"}}) {
			t.Errorf("catalog holds %v", srv.PartitionValues(db, tbl))
		}
	})

	t.Run("reports existing and malformed entries per entry and creates the rest", func(t *testing.T) {
		srv, client := newCatalog(t)
		in := &glue.BatchCreatePartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl),
			PartitionInputList: []types.PartitionInput{partitionInput("s3://b/1/", "2026", "01")},
		}
		if _, err := client.BatchCreatePartition(ctx, in); err != nil {
			t.Fatal(err)
		}
		in.PartitionInputList = append(in.PartitionInputList,
			partitionInput("s3://b/2/", "2026"),
			partitionInput("s3://b/3/", "2026", "02"))
		out, err := client.BatchCreatePartition(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range out.Errors {
			got[strings.Join(e.PartitionValues, "/")] = aws.ToString(e.ErrorDetail.ErrorCode)
		}
		want := map[string]string{"2026/01": "AlreadyExistsException", "2026": "InvalidInputException"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("entry errors %v, want %v", got, want)
		}
		if !reflect.DeepEqual(srv.PartitionValues(db, tbl), [][]string{{"2026", "01"}, {"2026", "02"}}) {
			t.Errorf("catalog holds %v", srv.PartitionValues(db, tbl))
		}
	})

	t.Run("refuses more than 100 partitions in one call", func(t *testing.T) {
		srv, client := newCatalog(t)
		in := &glue.BatchCreatePartitionInput{DatabaseName: aws.String(db), TableName: aws.String(tbl)}
		for i := range gluefake.MaxBatchCreatePartitions + 1 {
			in.PartitionInputList = append(in.PartitionInputList, partitionInput("s3://b/", "2026", fmt.Sprint(i)))
		}
		_, err := client.BatchCreatePartition(ctx, in)
		if code := errorCode(err); code != "ValidationException" {
			t.Fatalf("error %v, want ValidationException", err)
		}
		if n := len(srv.PartitionValues(db, tbl)); n != 0 {
			t.Errorf("%d partitions created by a refused call", n)
		}
	})

	t.Run("records each request with its decodable body", func(t *testing.T) {
		srv, client := newCatalog(t)
		in := &glue.BatchCreatePartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl),
			PartitionInputList: []types.PartitionInput{partitionInput("s3://b/x/", "2026", "03")},
		}
		if _, err := client.BatchCreatePartition(ctx, in); err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 || reqs[0].Op != "BatchCreatePartition" {
			t.Fatalf("requests %+v", reqs)
		}
		var sent glue.BatchCreatePartitionInput
		if err := reqs[0].Decode(&sent); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sent.PartitionInputList, in.PartitionInputList) || aws.ToString(sent.TableName) != tbl {
			t.Errorf("decoded request %+v, want %+v", sent, in)
		}
	})
}

func TestReadPartitions(t *testing.T) {
	ctx := context.Background()
	srv, client := newCatalog(t)
	var all [][]string
	for chunk := range 3 {
		in := &glue.BatchCreatePartitionInput{DatabaseName: aws.String(db), TableName: aws.String(tbl)}
		for i := range 84 {
			values := []string{"2026", fmt.Sprintf("%03d", chunk*84+i)}
			in.PartitionInputList = append(in.PartitionInputList, partitionInput("s3://b/", values...))
			all = append(all, values)
		}
		if _, err := client.BatchCreatePartition(ctx, in); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("GetPartitions pages through every partition in order", func(t *testing.T) {
		var got [][]string
		pages := 0
		p := glue.NewGetPartitionsPaginator(client, &glue.GetPartitionsInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl), MaxResults: aws.Int32(100),
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, part := range out.Partitions {
				got = append(got, part.Values)
			}
		}
		if pages != 3 || !reflect.DeepEqual(got, all) {
			t.Errorf("%d pages, %d partitions; want 3 pages, %d partitions in order", pages, len(got), len(all))
		}
	})

	t.Run("GetPartitions refuses an Expression it cannot evaluate", func(t *testing.T) {
		_, err := client.GetPartitions(ctx, &glue.GetPartitionsInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl), Expression: aws.String("year='2026'"),
		})
		if code := errorCode(err); code != "InvalidInputException" {
			t.Fatalf("error %v, want InvalidInputException", err)
		}
	})

	t.Run("GetPartition answers EntityNotFoundException for a missing partition", func(t *testing.T) {
		_, err := client.GetPartition(ctx, &glue.GetPartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: []string{"1999", "01"},
		})
		var notFound *types.EntityNotFoundException
		if !errors.As(err, &notFound) {
			t.Fatalf("error %v, want EntityNotFoundException", err)
		}
	})

	t.Run("BatchGetPartition returns only the partitions that exist", func(t *testing.T) {
		out, err := client.BatchGetPartition(ctx, &glue.BatchGetPartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl),
			PartitionsToGet: []types.PartitionValueList{{Values: []string{"2026", "007"}}, {Values: []string{"1999", "01"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Partitions) != 1 || !reflect.DeepEqual(out.Partitions[0].Values, []string{"2026", "007"}) {
			t.Errorf("partitions %+v", out.Partitions)
		}
	})

	t.Run("CreatePartition answers AlreadyExistsException for an existing partition", func(t *testing.T) {
		_, err := client.CreatePartition(ctx, &glue.CreatePartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionInput: new(partitionInput("s3://b/", "2026", "007")),
		})
		var exists *types.AlreadyExistsException
		if !errors.As(err, &exists) {
			t.Fatalf("error %v, want AlreadyExistsException", err)
		}
		if n := len(srv.PartitionValues(db, tbl)); n != len(all) {
			t.Errorf("catalog holds %d partitions, want %d", n, len(all))
		}
	})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	getTable := &glue.GetTableInput{DatabaseName: aws.String(db), Name: aws.String(tbl)}

	t.Run("call faults hit only their operation, the given number of times", func(t *testing.T) {
		srv, client := newCatalog(t)
		srv.Throttle("BatchCreatePartition", 1)
		srv.FailCalls("GetTable", 2, http.StatusInternalServerError, "InternalServiceException")
		var codes []string
		for range 3 {
			_, err := client.GetTable(ctx, getTable)
			codes = append(codes, errorCode(err))
		}
		if want := []string{"InternalServiceException", "InternalServiceException", ""}; !reflect.DeepEqual(codes, want) {
			t.Errorf("GetTable codes %q, want %q", codes, want)
		}
		_, err := client.BatchCreatePartition(ctx, &glue.BatchCreatePartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl),
			PartitionInputList: []types.PartitionInput{partitionInput("s3://b/", "2026", "01")},
		})
		if code := errorCode(err); code != "ThrottlingException" {
			t.Errorf("BatchCreatePartition error %v, want ThrottlingException", err)
		}
		if len(srv.PartitionValues(db, tbl)) != 0 || srv.Calls("GetTable") != 3 || srv.Calls("BatchCreatePartition") != 1 {
			t.Errorf("catalog %v, calls GetTable %d BatchCreatePartition %d", srv.PartitionValues(db, tbl), srv.Calls("GetTable"), srv.Calls("BatchCreatePartition"))
		}
	})

	t.Run("entry faults fail matching entries only, then stop", func(t *testing.T) {
		srv, client := newCatalog(t)
		srv.FailEntries("ThrottlingException", 1, func(v []string) bool { return v[1] == "02" })
		in := &glue.BatchCreatePartitionInput{
			DatabaseName: aws.String(db), TableName: aws.String(tbl),
			PartitionInputList: []types.PartitionInput{partitionInput("s3://b/", "2026", "01"), partitionInput("s3://b/", "2026", "02")},
		}
		out, err := client.BatchCreatePartition(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorDetail.ErrorCode) != "ThrottlingException" ||
			!reflect.DeepEqual(out.Errors[0].PartitionValues, []string{"2026", "02"}) {
			t.Fatalf("errors %+v", out.Errors)
		}
		in.PartitionInputList = in.PartitionInputList[1:]
		if out, err := client.BatchCreatePartition(ctx, in); err != nil || len(out.Errors) != 0 {
			t.Fatalf("retry: %v %+v", err, out)
		}
		if want := [][]string{{"2026", "01"}, {"2026", "02"}}; !reflect.DeepEqual(srv.PartitionValues(db, tbl), want) {
			t.Errorf("catalog %v, want %v", srv.PartitionValues(db, tbl), want)
		}
	})

	t.Run("unsigned requests are refused", func(t *testing.T) {
		srv, _ := newCatalog(t)
		req, _ := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader(`{}`))
		req.Header.Set("X-Amz-Target", "AWSGlue.GetTable")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}
