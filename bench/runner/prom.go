package main

import (
	"net"
	"net/http"
	"sync"
)

// promStub is a Prometheus HTTP API that answers every query with an empty
// result and counts the requests it receives, by path. Empty results make
// every gate Inconclusive, so canaries hold and the runs write nothing; the
// count is what matters here.
type promStub struct {
	URL string

	mu     sync.Mutex
	counts map[string]int
}

func startPromStub() (*promStub, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &promStub{URL: "http://" + ln.Addr().String(), counts: map[string]int{}}
	go http.Serve(ln, s) //nolint:errcheck // serves until the runner exits
	return s, nil
}

func (s *promStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts[r.URL.Path]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/query":
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	case "/api/v1/query_range":
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"not found"}`))
	}
}

// take returns the counts since the last call and resets them.
func (s *promStub) take() (total int, byPath map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byPath = s.counts
	s.counts = map[string]int{}
	for _, n := range byPath {
		total += n
	}
	return total, byPath
}
