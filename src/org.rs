//! The district's structure: departments, territories, and who owns what.
//!
//! Routing is a function of (topic group, territory), not of the topic alone (org-chart.md,
//! §2.6 of the regulation): local improvement in a rural territory is executed by that
//! territory's administration with the sector department supervising.

use crate::config::ConfigError;
use crate::understand::Taxonomy;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// A sector department of the administration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    pub name: String,
}

/// A territorial division (former settlement) with its own administration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Territory {
    pub id: String,
    pub name: String,
    /// Administrative centre, as shown to users.
    #[serde(default)]
    pub centre: Option<String>,
}

/// "These topic groups in these territories belong to that owner."
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Topic group ids; empty means every group.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Territory ids; empty means every territory.
    #[serde(default)]
    pub territories: Vec<String>,
    /// A department id, or `territory` for the incident's own territory administration.
    pub owner: String,
}

/// The org chart as configured in `org.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub departments: Vec<Department>,
    pub territories: Vec<Territory>,
    /// Checked in order; the first rule that matches decides. When none matches, the
    /// taxonomy's default department owns the topic.
    #[serde(default)]
    pub routing: Vec<RoutingRule>,
}

/// Who is responsible for an incident.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Owner {
    Department(String),
    Territory(String),
}

impl Owner {
    pub fn id(&self) -> &str {
        match self {
            Owner::Department(id) | Owner::Territory(id) => id,
        }
    }
}

impl Org {
    pub fn load(path: &Path) -> Result<Org, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(path, "-", format!("cannot read the org chart: {e}")))?;
        Org::parse(path, &text)
    }

    /// The org chart shipped in `config/org.toml`.
    pub fn embedded() -> Org {
        Org::parse(
            Path::new("config/org.toml"),
            include_str!("../config/org.toml"),
        )
        .expect("the embedded org chart is valid")
    }

    pub fn parse(path: &Path, text: &str) -> Result<Org, ConfigError> {
        let org: Org =
            toml::from_str(text).map_err(|e| crate::config::toml_error(path, text, &e))?;
        org.validate(path)?;
        Ok(org)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for (i, d) in self.departments.iter().enumerate() {
            if !seen.insert(d.id.as_str()) {
                return Err(ConfigError::new(
                    path,
                    format!("departments[{i}].id"),
                    format!("`{}` is listed twice", d.id),
                ));
            }
        }
        for (i, t) in self.territories.iter().enumerate() {
            if !seen.insert(t.id.as_str()) {
                return Err(ConfigError::new(
                    path,
                    format!("territories[{i}].id"),
                    format!("`{}` is already used by a department or territory", t.id),
                ));
            }
            if matches!(t.id.as_str(), "district" | "outside" | "territory") {
                return Err(ConfigError::new(
                    path,
                    format!("territories[{i}].id"),
                    format!("`{}` is reserved", t.id),
                ));
            }
        }
        for (i, rule) in self.routing.iter().enumerate() {
            for (j, t) in rule.territories.iter().enumerate() {
                if self.territory(t).is_none() {
                    return Err(ConfigError::new(
                        path,
                        format!("routing[{i}].territories[{j}]"),
                        format!(
                            "unknown territory `{t}`; expected one of: {}",
                            self.territory_ids().join(", ")
                        ),
                    ));
                }
            }
            if rule.owner != "territory" && self.department(&rule.owner).is_none() {
                return Err(ConfigError::new(
                    path,
                    format!("routing[{i}].owner"),
                    format!(
                        "unknown department `{}`; expected `territory` or one of: {}",
                        rule.owner,
                        self.department_ids().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Check that the taxonomy's default owners and the routing's groups exist.
    pub fn check_against(&self, path: &Path, taxonomy: &Taxonomy) -> Result<(), ConfigError> {
        for group in &taxonomy.groups {
            for topic in &group.topics {
                if self.department(&topic.department).is_none() {
                    return Err(ConfigError::new(
                        path,
                        "departments",
                        format!(
                            "the taxonomy gives topic «{}» to department `{}`, which the org chart does not list",
                            topic.name, topic.department
                        ),
                    ));
                }
            }
        }
        for (i, rule) in self.routing.iter().enumerate() {
            for (j, g) in rule.groups.iter().enumerate() {
                if taxonomy.group(g).is_none() {
                    return Err(ConfigError::new(
                        path,
                        format!("routing[{i}].groups[{j}]"),
                        format!("unknown topic group `{g}`; expected a group_id of the taxonomy"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    pub fn territory(&self, id: &str) -> Option<&Territory> {
        self.territories.iter().find(|t| t.id == id)
    }

    pub fn territory_ids(&self) -> Vec<String> {
        self.territories.iter().map(|t| t.id.clone()).collect()
    }

    fn department_ids(&self) -> Vec<String> {
        self.departments.iter().map(|d| d.id.clone()).collect()
    }

    /// Who owns an incident of `group`/`topic` in `territory`.
    pub fn route(
        &self,
        taxonomy: &Taxonomy,
        group: &str,
        topic: Option<&str>,
        territory: Option<&str>,
    ) -> Option<Owner> {
        let local_territory = territory.filter(|t| self.territory(t).is_some());
        for rule in &self.routing {
            let group_matches = rule.groups.is_empty() || rule.groups.iter().any(|g| g == group);
            let territory_matches = rule.territories.is_empty()
                || local_territory.is_some_and(|t| rule.territories.iter().any(|r| r == t));
            if !(group_matches && territory_matches) {
                continue;
            }
            if rule.owner == "territory" {
                if let Some(t) = local_territory {
                    return Some(Owner::Territory(t.to_string()));
                }
                continue;
            }
            return Some(Owner::Department(rule.owner.clone()));
        }
        taxonomy
            .default_department(group, topic)
            .map(|d| Owner::Department(d.to_string()))
    }

    /// The owner's name as users read it.
    pub fn owner_name(&self, owner: &Owner) -> String {
        match owner {
            Owner::Department(id) => self
                .department(id)
                .map_or_else(|| id.clone(), |d| d.name.clone()),
            Owner::Territory(id) => self.territory(id).map_or_else(
                || id.clone(),
                |t| format!("администрация территории: {}", t.name),
            ),
        }
    }

    /// A territory id (or `district` / `outside`) as users read it.
    pub fn territory_name(&self, id: &str) -> String {
        match id {
            "district" => "округ в целом".to_string(),
            "outside" => "за пределами округа".to_string(),
            _ => self
                .territory(id)
                .map_or_else(|| id.to_string(), |t| t.name.clone()),
        }
    }
}
