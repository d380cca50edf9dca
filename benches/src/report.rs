//! Benchmark rows, each against its physical limit, printed as a markdown table and saved as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One measured figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `ceiling`, `gemv`, `gemm`, `attention`, `decode-attention`, `elementwise`, `e2e`.
    pub group: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// The limit this figure is judged against, in the same unit, and its name.
    pub limit: Option<f64>,
    pub limit_name: Option<String>,
    pub pct_of_limit: Option<f64>,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub note: String,
}

impl Row {
    pub fn new(
        group: &str,
        name: impl Into<String>,
        value: f64,
        unit: &str,
        t: crate::timing::Stats,
    ) -> Self {
        Row {
            group: group.into(),
            name: name.into(),
            value,
            unit: unit.into(),
            limit: None,
            limit_name: None,
            pct_of_limit: None,
            median_s: t.median,
            min_s: t.min,
            max_s: t.max,
            note: String::new(),
        }
    }

    /// Judges the figure against `limit` (same unit).
    pub fn against(mut self, limit: f64, name: &str) -> Self {
        if limit > 0.0 {
            self.limit = Some(limit);
            self.limit_name = Some(name.into());
            self.pct_of_limit = Some(100.0 * self.value / limit);
        }
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    /// Key used by `--compare`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }
}

/// All figures of one backend on one device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub backend: String,
    pub card: String,
    pub driver: String,
    pub git_commit: String,
    pub date: String,
    /// Set when the model was reduced (software device, not enough memory): says how.
    pub reduced: Option<String>,
    pub rows: Vec<Row>,
}

/// The JSON file: every backend's report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchFile {
    pub reports: Vec<Report>,
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The markdown table: one row per figure.
pub fn markdown(file: &BenchFile, previous: Option<&BenchFile>) -> String {
    let prev: BTreeMap<(String, String), f64> = previous
        .map(|p| {
            p.reports
                .iter()
                .flat_map(|r| {
                    r.rows
                        .iter()
                        .map(move |row| ((r.backend.clone(), row.key()), row.value))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::new();
    for r in &file.reports {
        out += &format!(
            "\n### {} on {} ({}, {})\n",
            r.backend, r.card, r.date, r.git_commit
        );
        if let Some(why) = &r.reduced {
            out += &format!("\n**Reduced model:** {why}\n");
        }
        let change = if previous.is_some() { " change |" } else { "" };
        out += &format!("\n| figure | value | unit | % of limit | limit | card |{change}\n");
        out += &format!(
            "| --- | ---: | --- | ---: | --- | --- |{}\n",
            if previous.is_some() { " ---: |" } else { "" }
        );
        for row in &r.rows {
            let pct = row.pct_of_limit.map_or("".into(), |p| format!("{p:.1}%"));
            let limit = match (&row.limit, &row.limit_name) {
                (Some(l), Some(n)) => format!("{} {} ({n})", fmt_value(*l), row.unit),
                _ => String::new(),
            };
            let name = if row.note.is_empty() {
                row.key()
            } else {
                format!("{} ({})", row.key(), row.note)
            };
            out += &format!(
                "| {name} | {} | {} | {pct} | {limit} | {} |",
                fmt_value(row.value),
                row.unit,
                r.card
            );
            if previous.is_some() {
                let c = prev
                    .get(&(r.backend.clone(), row.key()))
                    .map_or("new".into(), |p| {
                        format!("{:+.1}%", 100.0 * (row.value / p - 1.0))
                    });
                out += &format!(" {c} |");
            }
            out += "\n";
        }
    }
    out
}
