package scheduler

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// runInfoCacheSize bounds the flows whose run info a process keeps; past
// it the cache starts again empty (a miss costs one read).
const runInfoCacheSize = 4096

// runInfoCache keeps the run info of flows that may be triggered, so that
// a trigger does not read its flow first. It needs no invalidation: every
// trigger's insert checks that the flow still has the status, template
// flag and version it was decided on (store.ExecutionsInsert), whichever
// process changed it; when it does not, Trigger forgets the entry and
// reads the flow again. Flows that refuse triggers are never kept, so
// resuming a flow is seen at once.
type runInfoCache struct {
	mu    sync.RWMutex
	infos map[runInfoKey]store.FlowRunInfo
}

// runInfoKey holds the company too: another company's id must not find
// the flow.
type runInfoKey struct{ company, flow uuid.UUID }

func newRunInfoCache() *runInfoCache {
	return &runInfoCache{infos: map[runInfoKey]store.FlowRunInfo{}}
}

// get returns the flow's run info, from the cache unless fresh, checked
// by flow.CheckTrigger.
func (c *runInfoCache) get(ctx context.Context, st *store.Store, companyID, flowID uuid.UUID, fresh bool) (*store.FlowRunInfo, error) {
	key := runInfoKey{companyID, flowID}
	if !fresh {
		c.mu.RLock()
		info, ok := c.infos[key]
		c.mu.RUnlock()
		if ok {
			return &info, nil
		}
	}
	info, err := st.FlowRunInfo(ctx, companyID, flowID)
	if err == nil {
		err = flow.CheckTrigger(info.Status, info.IsTemplate)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.infos, key)
		return nil, err
	}
	if len(c.infos) >= runInfoCacheSize {
		clear(c.infos)
	}
	c.infos[key] = *info
	return info, nil
}
