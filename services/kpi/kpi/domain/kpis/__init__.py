"""The KPI catalogue (../shared/kpi-catalogue.md section 3): one module per KPI family."""
