package issuer

import (
	"encoding/json"
	"sync"
	"time"
)

// Step names, in the order a run passes through them.
const (
	StepAccount        = "account"
	StepPlan           = "plan"
	StepOrder          = "order"
	StepAuthorizations = "authorizations"
	StepPublish        = "publish"
	StepPropagation    = "propagation"
	StepValidation     = "validation"
	StepFinalize       = "finalize"
	StepCleanup        = "cleanup"
	StepStore          = "store"
)

// Timings records how long each step of a run took. It is safe for
// concurrent use.
type Timings struct {
	mu    sync.Mutex
	order []string
	spent map[string]time.Duration
	begin time.Time
}

// NewTimings starts the clock of a run.
func NewTimings() *Timings {
	return &Timings{spent: make(map[string]time.Duration), begin: time.Now()}
}

// Start begins timing step and returns the function that ends it. A step
// timed twice adds up.
func (t *Timings) Start(step string) (stop func()) {
	start := time.Now()
	var once sync.Once
	return func() {
		once.Do(func() { t.Add(step, time.Since(start)) })
	}
}

// Add records d against step.
func (t *Timings) Add(step string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.spent[step]; !ok {
		t.order = append(t.order, step)
	}
	t.spent[step] += d
}

// StepTime is the time one step took.
type StepTime struct {
	Step     string        `json:"step"`
	Duration time.Duration `json:"-"`
}

// MarshalJSON writes the duration in seconds, a unit scripts can compare.
func (s StepTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Step    string  `json:"step"`
		Seconds float64 `json:"seconds"`
	}{s.Step, s.Duration.Seconds()})
}

// Steps returns the recorded steps in the order they first started.
func (t *Timings) Steps() []StepTime {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]StepTime, 0, len(t.order))
	for _, s := range t.order {
		out = append(out, StepTime{Step: s, Duration: t.spent[s]})
	}
	return out
}

// Total returns the time since NewTimings.
func (t *Timings) Total() time.Duration {
	return time.Since(t.begin)
}
