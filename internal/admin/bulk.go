package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/bulk"
	"github.com/latchkey/latchkey/internal/client"
	"github.com/latchkey/latchkey/internal/errs"
)

// BulkJobBody is the request of POST /bulk-jobs; the client-list filter is
// in the query, as for GET /clients.
type BulkJobBody struct {
	Operation string `json:"operation"`
	// DryRun lists the changes without making them.
	DryRun bool `json:"dry_run,omitempty"`
	// ExpectedCount confirms a real run: the dry run's total. The job is
	// created only when the filter still matches exactly that many.
	ExpectedCount *int `json:"expected_count,omitempty"`
	// ConfirmProtected changes protected clients too.
	ConfirmProtected bool  `json:"confirm_protected,omitempty"`
	GracePeriod      int64 `json:"grace_period,omitempty"`
	SecretLifetime   int64 `json:"secret_lifetime,omitempty"`
}

// BulkChange is one client a job would change.
type BulkChange struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	Change   string `json:"change"`
}

// BulkDryRun is what a job would change: every client, then the total.
type BulkDryRun struct {
	Operation string       `json:"operation"`
	Changes   []BulkChange `json:"changes"`
	Total     int          `json:"total"`
}

// BulkFailure is a client a job could not change, and why.
type BulkFailure struct {
	ClientID string `json:"client_id"`
	Detail   string `json:"detail"`
}

// BulkJob is a job and its progress.
type BulkJob struct {
	ID              string            `json:"id"`
	Operation       string            `json:"operation"`
	Filter          map[string]string `json:"filter"`
	State           string            `json:"state"`
	Total           int               `json:"total"`
	Done            int               `json:"done"`
	Failed          int               `json:"failed"`
	Error           string            `json:"error,omitempty"`
	CreatedBy       string            `json:"created_by"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	FinishedAt      *time.Time        `json:"finished_at,omitempty"`
	ResultDelivered bool              `json:"result_delivered"`
	Failures        []BulkFailure     `json:"failures,omitempty"`
}

// BulkJobList is a tenant's latest jobs.
type BulkJobList struct {
	Jobs []BulkJob `json:"jobs"`
}

// BulkResult is a rotation's new secrets, delivered once.
type BulkResult struct {
	Secrets []bulk.Secret `json:"secrets"`
}

// NewBulkJob is the view of a job.
func NewBulkJob(j *bulk.Job, failures []bulk.Item) BulkJob {
	v := BulkJob{ID: j.ID, Operation: string(j.Op), Filter: bulk.FilterOf(j.Filter), State: string(j.State),
		Total: j.Total, Done: j.Done, Failed: j.Failed, Error: j.Error, CreatedBy: j.Actor.ID,
		CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(), ResultDelivered: j.ResultDelivered}
	if !j.FinishedAt.IsZero() {
		at := j.FinishedAt.UTC()
		v.FinishedAt = &at
	}
	for _, f := range failures {
		v.Failures = append(v.Failures, BulkFailure{ClientID: f.ClientID, Detail: f.Detail})
	}
	return v
}

// createBulkJob serves POST /bulk-jobs: a dry run, streamed, or a
// confirmed job (202).
func createBulkJob(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	q, _, err := parseList(r, a.now())
	if err != nil {
		return err
	}
	raw, err := readBody(r, "application/json")
	if err != nil {
		return err
	}
	var b BulkJobBody
	if err := decodeInto(raw, &b); err != nil {
		return err
	}
	op := bulk.Op(b.Operation)
	lifetime := seconds(b.SecretLifetime)
	if b.SecretLifetime == -1 {
		lifetime = client.NeverExpires
	}
	p := bulk.Params{Grace: seconds(b.GracePeriod), Lifetime: lifetime, Confirm: b.ConfirmProtected}
	if !b.DryRun {
		if b.ExpectedCount == nil {
			return errs.Invalid("expected_count", "confirm the job with the total of its dry run")
		}
		j, err := a.Bulk.Create(r.Context(), c.actor, op, q, p, *b.ExpectedCount)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, NewBulkJob(j, nil))
		return nil
	}
	return a.streamDryRun(w, r, c, op, q, p)
}

// streamDryRun writes a dry run's changes as the match reads them, a page
// at a time, so a match of any size is never held whole; an error after
// the first byte ends the object with an "error" problem instead.
func (a *API) streamDryRun(w http.ResponseWriter, r *http.Request, c *call, op bulk.Op, q client.ListQuery, p bulk.Params) error {
	started := false
	total, err := a.Bulk.Match(r.Context(), c.actor, op, q, p, func(ch bulk.Change) error {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			opName, _ := json.Marshal(string(op))
			w.Write([]byte(`{"operation":` + string(opName) + `,"changes":[`))
			started = true
		} else {
			w.Write([]byte(","))
		}
		b, err := json.Marshal(BulkChange(ch))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if !started {
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, BulkDryRun{Operation: string(op), Changes: []BulkChange{}, Total: 0})
		return nil
	}
	if err != nil {
		prob, known := Classify(err)
		if !known {
			a.log().ErrorContext(r.Context(), "bulk dry run failed", "request_id", c.requestID, "err", err)
		}
		b, _ := json.Marshal(prob)
		_, err := w.Write([]byte(`],"error":` + string(b) + "}\n"))
		return err
	}
	_, err = w.Write([]byte(`],"total":` + strconv.Itoa(total) + "}\n"))
	return err
}

func listBulkJobs(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	jobs, err := a.Bulk.Jobs(r.Context(), c.actor, 100)
	if err != nil {
		return err
	}
	out := BulkJobList{Jobs: make([]BulkJob, 0, len(jobs))}
	for i := range jobs {
		out.Jobs = append(out.Jobs, NewBulkJob(&jobs[i], nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func getBulkJob(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	j, failures, err := a.Bulk.JobWithFailures(r.Context(), c.actor, r.PathValue("id"), 100)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewBulkJob(j, failures))
	return nil
}

func cancelBulkJob(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	j, err := a.Bulk.Cancel(r.Context(), c.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewBulkJob(j, nil))
	return nil
}

// getBulkResult serves a rotation's secrets once; afterwards it is 410.
func getBulkResult(a *API, w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	secrets, err := a.Bulk.Result(r.Context(), c.actor, r.PathValue("id"))
	if errors.Is(err, bulk.ErrDelivered) {
		p := NewProblem(http.StatusGone, "delivered", err.Error())
		return &p
	}
	if errors.Is(err, bulk.ErrNotFinished) {
		p := NewProblem(http.StatusConflict, "not_finished", err.Error())
		return &p
	}
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`-secrets.json"`)
	writeJSON(w, http.StatusOK, BulkResult{Secrets: secrets})
	return nil
}
