package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

type planKey struct {
	flowID  uuid.UUID
	version int
}

// planCache keeps compiled plans of definition versions. Versions are
// immutable, so entries never go stale; the cache is simply emptied when
// it grows past maxPlans.
type planCache struct {
	store Store
	mu    sync.Mutex
	plans map[planKey]*flow.Plan
}

const maxPlans = 10000

func newPlanCache(store Store) *planCache {
	return &planCache{store: store, plans: map[planKey]*flow.Plan{}}
}

func (c *planCache) get(ctx context.Context, flowID uuid.UUID, version int) (*flow.Plan, error) {
	key := planKey{flowID, version}
	c.mu.Lock()
	p, ok := c.plans[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	def, err := c.store.FlowDefinitionForRun(ctx, flowID, version)
	if err != nil {
		return nil, err
	}
	p, err = flow.Compile(def)
	if err != nil {
		return nil, fmt.Errorf("compile flow %s version %d: %w", flowID, version, err)
	}
	c.mu.Lock()
	if len(c.plans) >= maxPlans {
		c.plans = map[planKey]*flow.Plan{}
	}
	c.plans[key] = p
	c.mu.Unlock()
	return p, nil
}
