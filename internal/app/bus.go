package app

import (
	"context"

	"github.com/warder/warder"
	"github.com/warder/warder/broker"
	"github.com/warder/warder/sqlstore"
)

// sharedBus is the EventBus of replicas sharing one PostgreSQL database:
// every change any replica records is read back from the database's feed
// (Feed.Run hands it to the broker), so it reaches this replica's
// followers whoever recorded it, in one order everywhere, with ids a
// reconnecting client can resume from on any replica.
type sharedBus struct {
	*broker.Broker
	feed *sqlstore.Feed
}

var _ warder.EventBus = sharedBus{}

// Publish does nothing: the store wrote the change to the feed in the
// transaction that recorded it, and it comes back from there.
func (sharedBus) Publish(warder.StatusChange) {}

// Since reads the changes after id from the feed.
func (b sharedBus) Since(ctx context.Context, id int64) ([]warder.StatusChange, error) {
	return b.feed.Since(ctx, id)
}
