package scaffold

import (
	"bytes"
	"encoding/json"
)

// A Grafana dashboard, the fields the scaffold sets (schema version 39).
type dashboard struct {
	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	Tags          []string        `json:"tags"`
	Timezone      string          `json:"timezone"`
	SchemaVersion int             `json:"schemaVersion"`
	Refresh       string          `json:"refresh"`
	Time          dashboardTime   `json:"time"`
	Templating    templating      `json:"templating"`
	Panels        []dashboardPane `json:"panels"`
}

type dashboardTime struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type templating struct {
	List []templateVar `json:"list"`
}

type templateVar struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
	Query string `json:"query"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboardPane struct {
	ID          int           `json:"id"`
	Type        string        `json:"type"`
	Title       string        `json:"title"`
	Description string        `json:"description,omitempty"`
	GridPos     gridPos       `json:"gridPos"`
	Datasource  datasourceRef `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []panelTarget `json:"targets"`
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type panelTarget struct {
	RefID        string        `json:"refId"`
	Datasource   datasourceRef `json:"datasource"`
	Expr         string        `json:"expr"`
	LegendFormat string        `json:"legendFormat"`
}

// Dashboard panel titles.
const (
	PanelTrafficDistribution = "Traffic distribution"
	PanelErrorRate           = "Error rate: canary vs stable"
	PanelLatencyP99          = "p99 latency: canary vs stable"
	PanelRequestRate         = "Request rate by version"
	PanelResponseCodes       = "Response codes"
)

// rateWindow is Grafana's range variable for rate().
const rateWindow = "$__rate_interval"

func dashboardJSON(o *Options) ([]byte, error) {
	ds := datasourceRef{Type: "prometheus", UID: "${datasource}"}
	type panel struct {
		title, desc, unit, expr, legend string
	}
	byVersion := "destination_version"
	panels := []panel{
		{PanelTrafficDistribution, "Share of requests served by each version: the weights promoter has committed, as the mesh applies them.", "percentunit",
			o.requestRate(byVersion, rateWindow) + "\n/ ignoring (destination_version) group_left\n" + o.requestRate("", rateWindow), "{{destination_version}}"},
		{PanelErrorRate, "5xx share per version. promoter's gate: canary under 1%; rollback over 5%.", "percentunit",
			o.errorRatio(byVersion, rateWindow), "{{destination_version}}"},
		{PanelLatencyP99, "p99 request duration per version. promoter's gates: canary under 500 ms and no more than 10% over stable; rollback over 2 s.", "ms",
			o.latencyQuantile("0.99", byVersion, rateWindow), "{{destination_version}}"},
		{PanelRequestRate, "", "reqps", o.requestRate(byVersion, rateWindow), "{{destination_version}}"},
		{PanelResponseCodes, "", "reqps", o.requestRate(byVersion+", response_code", rateWindow), "{{destination_version}} {{response_code}}"},
	}
	d := dashboard{
		UID:           dashboardUID(o),
		Title:         o.Name + " canary (" + o.Namespace + ")",
		Tags:          []string{"canary", "istio", "promoter"},
		Timezone:      "browser",
		SchemaVersion: 39,
		Refresh:       "30s",
		Time:          dashboardTime{From: "now-6h", To: "now"},
		Templating:    templating{List: []templateVar{{Name: "datasource", Label: "Prometheus", Type: "datasource", Query: "prometheus"}}},
	}
	for i, p := range panels {
		dp := dashboardPane{
			ID: i + 1, Type: "timeseries", Title: p.title, Description: p.desc, Datasource: ds,
			GridPos: gridPos{H: 8, W: 12, X: 12 * (i % 2), Y: 8 * (i / 2)},
			Targets: []panelTarget{{RefID: "A", Datasource: ds, Expr: p.expr, LegendFormat: p.legend}},
		}
		dp.FieldConfig.Defaults.Unit = p.unit
		d.Panels = append(d.Panels, dp)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dashboardUID is stable across runs, and within Grafana's 40 characters.
func dashboardUID(o *Options) string {
	uid := "canary-" + o.Namespace + "-" + o.Name
	if len(uid) > 40 {
		uid = uid[:40]
	}
	return uid
}
