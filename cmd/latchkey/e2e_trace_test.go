package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTraceparentReachesTheLog(t *testing.T) { forEachBackend(t, testTraceparentReachesTheLog) }

// testTraceparentReachesTheLog sends a failing token request in a caller's
// trace: the response continues that trace in a span of the server's own,
// and the JSON log line of the failure names both.
func testTraceparentReachesTheLog(t *testing.T, db database) {
	in := start(t, db, map[string]string{"LATCHKEY_LOG_FORMAT": "json"})
	id, _ := in.createClient(t, "--name", "Traced", "--grant-type", "client_credentials")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", in.url+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.SetBasicAuth(id, "lks_wrong")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	tp := strings.Split(res.Header.Get("traceparent"), "-")
	if res.StatusCode != 401 || len(tp) != 4 || tp[1] != traceID || tp[2] == "00f067aa0ba902b7" || tp[3] != "01" {
		t.Fatalf("%d, traceparent %q", res.StatusCode, res.Header.Get("traceparent"))
	}
	for line := range strings.Lines(in.stderr.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "client authentication failed" {
			continue
		}
		if rec["trace_id"] != traceID || rec["span_id"] != tp[2] || rec["request_id"] != res.Header.Get("X-Request-Id") {
			t.Errorf("log line %s: want trace %s, span %s, request %s", line, traceID, tp[2], res.Header.Get("X-Request-Id"))
		}
		return
	}
	t.Errorf("no log line of the failed authentication:\n%s", in.stderr)
}
