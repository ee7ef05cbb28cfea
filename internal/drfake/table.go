package drfake

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
)

// CreateAggregatesTable creates the aggregates table as the table
// construct declares it (constructs/datatier: pk and sk, on-demand, and the
// writerhour index) on a DynamoDB endpoint such as dynalite, and waits
// until it is active.
func CreateAggregatesTable(tb testing.TB, client *dynamodb.Client, name string) {
	tb.Helper()
	s := func(attr string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(attr), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String(rng), KeyType: ddbtypes.KeyTypeRange}}
	}
	_, err := client.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{s("pk"), s("sk"), s(writerhour.Attribute), s(writerhour.SortKey)},
		KeySchema:            key("pk", "sk"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String(writerhour.Index),
			KeySchema: key(writerhour.Attribute, writerhour.SortKey), Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}}},
	})
	if err != nil {
		tb.Fatalf("drfake: create table %s: %v", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		tb.Fatalf("drfake: table %s not active: %v", name, err)
	}
}
