package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP traces endpoint (POST /v1/traces, protobuf)
// that keeps every span it is sent, decoded with the OTLP types, as a
// collector would receive them.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*span
}

// span is a received span with its ids in hex and its attributes as
// strings.
type span struct {
	service                   string
	name                      string
	kind                      tracepb.Span_SpanKind
	traceID, spanID, parentID string
	links                     []string // the linked spans' ids
	attrs                     map[string]string
	statusError               bool
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *otlpReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := attrMap(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := &span{
					service: service, name: s.GetName(), kind: s.GetKind(),
					traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					parentID:    hex.EncodeToString(s.GetParentSpanId()),
					attrs:       attrMap(s.GetAttributes()),
					statusError: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
				}
				for _, l := range s.GetLinks() {
					sp.links = append(sp.links, hex.EncodeToString(l.GetSpanId()))
				}
				// Resource attributes are exported too: a secret there
				// would leak as well.
				for k, v := range attrMap(rs.GetResource().GetAttributes()) {
					sp.attrs["resource."+k] = v
				}
				rc.spans = append(rc.spans, sp)
			}
		}
	}
}

// attrMap renders OTLP attributes as strings (numbers in decimal).
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValueString(kv.GetValue())
	}
	return m
}

func anyValueString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_ArrayValue:
		out := ""
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				out += ","
			}
			out += anyValueString(e)
		}
		return out
	}
	return v.String()
}

// Spans returns the spans received so far.
func (rc *otlpReceiver) Spans() []*span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*span(nil), rc.spans...)
}
