//! Who holds which role: the people of the administration, their contacts, and who acts for
//! them while they are away.
//!
//! The software knows *roles* (org-chart.md); `people.toml` binds each role to persons. Roles:
//! - `curator`, `mcu-head`, `im-coordinator`, `pos-coordinator` — the coordinating roles;
//! - `head:<owner>` — the head of a department or territory (`head:zhkh`, `head:shopsha`);
//! - `executor:<owner>` — who answers for that owner's incidents day to day;
//! - `admin` — the system administrator (source failures and the like).
//!
//! A person away (`[[person.absence]]`) is replaced by the substitute named for that period;
//! a substitute who is away too is followed in turn (loops are refused at load time).

use crate::config::ConfigError;
use crate::org::{Org, Owner};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The roles every deployment has, besides those tied to an owner.
pub const FIXED_ROLES: [&str; 5] = [
    "curator",
    "mcu-head",
    "im-coordinator",
    "pos-coordinator",
    "admin",
];

/// One person, with contacts for the alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Short id used in the configuration and in timelines.
    pub id: String,
    /// Name and position as shown in alerts («Петров П. П., начальник управления ЖКХ»).
    pub name: String,
    pub roles: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Chat id for the Telegram bot.
    #[serde(default)]
    pub telegram_chat_id: Option<i64>,
    /// A webhook (by name, from `[[alerts.webhooks]]`) that receives this person's alerts.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Periods away (leave, business trips), each with the acting substitute.
    #[serde(default, rename = "absence")]
    pub absences: Vec<Absence>,
}

/// A period a person is away, inclusive of both dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Absence {
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// The person acting for them (an id of `[[person]]`).
    pub substitute: String,
}

/// `people.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct People {
    #[serde(default, rename = "person")]
    pub persons: Vec<Person>,
}

/// A person who should hear about something, and whom they act for if they are a substitute.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Addressee {
    pub person: String,
    /// The role through which they are addressed.
    pub role: String,
    /// When they act for someone away: that person's id.
    pub acting_for: Option<String>,
}

impl People {
    pub fn load(path: &Path, org: &Org) -> Result<People, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path, "-", format!("cannot read the people file: {e}"))
        })?;
        People::parse(path, &text, org)
    }

    /// The people file shipped in `config/` (fictional persons, for the demo).
    pub fn embedded(org: &Org) -> People {
        People::parse(
            Path::new("config/people.toml"),
            include_str!("../config/people.toml"),
            org,
        )
        .expect("the embedded people file is valid")
    }

    pub fn parse(path: &Path, text: &str, org: &Org) -> Result<People, ConfigError> {
        let people: People =
            toml::from_str(text).map_err(|e| crate::config::toml_error(path, text, &e))?;
        people.check(path, org)?;
        Ok(people)
    }

    fn check(&self, path: &Path, org: &Org) -> Result<(), ConfigError> {
        let mut ids = BTreeSet::new();
        for (i, p) in self.persons.iter().enumerate() {
            if !ids.insert(p.id.as_str()) {
                return Err(ConfigError::new(
                    path,
                    format!("person[{i}].id"),
                    format!("`{}` is used twice; ids must be unique", p.id),
                ));
            }
        }
        for (i, p) in self.persons.iter().enumerate() {
            for (j, role) in p.roles.iter().enumerate() {
                if let Err(problem) = check_role(role, org) {
                    return Err(ConfigError::new(
                        path,
                        format!("person[{i}].roles[{j}]"),
                        problem,
                    ));
                }
            }
            for (j, a) in p.absences.iter().enumerate() {
                let key = |k: &str| format!("person[{i}].absence[{j}].{k}");
                if a.until < a.from {
                    return Err(ConfigError::new(
                        path,
                        key("until"),
                        "the absence ends before it starts",
                    ));
                }
                if !ids.contains(a.substitute.as_str()) {
                    return Err(ConfigError::new(
                        path,
                        key("substitute"),
                        format!(
                            "unknown person `{}`; expected an id of [[person]]",
                            a.substitute
                        ),
                    ));
                }
                if a.substitute == p.id {
                    return Err(ConfigError::new(
                        path,
                        key("substitute"),
                        "a person cannot substitute for themselves",
                    ));
                }
            }
        }
        // A chain of substitutes must end: check every day any absence covers.
        let days: BTreeSet<NaiveDate> = self
            .persons
            .iter()
            .flat_map(|p| &p.absences)
            .flat_map(|a| a.from.iter_days().take_while(move |d| *d <= a.until))
            .collect();
        for day in days {
            for (i, p) in self.persons.iter().enumerate() {
                if self.acting(&p.id, day).is_none() {
                    return Err(ConfigError::new(
                        path,
                        format!("person[{i}].absence"),
                        format!(
                            "on {day} the substitutes of `{}` lead in a circle; name someone who is present",
                            p.id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.persons.iter().find(|p| p.id == id)
    }

    /// Who acts for `id` on `day`: the person themself when present, otherwise their
    /// substitute (followed while the substitute is away too). `None` for a loop.
    pub fn acting(&self, id: &str, day: NaiveDate) -> Option<&Person> {
        let mut current = self.person(id)?;
        for _ in 0..=self.persons.len() {
            match current
                .absences
                .iter()
                .find(|a| a.from <= day && day <= a.until)
            {
                None => return Some(current),
                Some(a) => current = self.person(&a.substitute)?,
            }
        }
        None
    }

    /// Who holds `role` on `day`, substitutes applied, each person once.
    pub fn holders(&self, role: &str, day: NaiveDate) -> Vec<Addressee> {
        let mut out: Vec<Addressee> = Vec::new();
        for p in self
            .persons
            .iter()
            .filter(|p| p.roles.iter().any(|r| r == role))
        {
            let Some(acting) = self.acting(&p.id, day) else {
                continue;
            };
            if out.iter().any(|a| a.person == acting.id) {
                continue;
            }
            out.push(Addressee {
                person: acting.id.clone(),
                role: role.to_string(),
                acting_for: (acting.id != p.id).then(|| p.id.clone()),
            });
        }
        out
    }

    /// Every role some person holds.
    pub fn roles(&self) -> BTreeSet<&str> {
        self.persons
            .iter()
            .flat_map(|p| p.roles.iter().map(String::as_str))
            .collect()
    }

    /// Persons by id, for lookups in a loop.
    pub fn by_id(&self) -> HashMap<&str, &Person> {
        self.persons.iter().map(|p| (p.id.as_str(), p)).collect()
    }
}

/// The role of the executor for an owner.
pub fn executor_role(owner: &Owner) -> String {
    format!("executor:{}", owner.id())
}

/// The role of the head of an owner.
pub fn head_role(owner: &Owner) -> String {
    format!("head:{}", owner.id())
}

/// Checks a role name against the org chart.
pub fn check_role(role: &str, org: &Org) -> Result<(), String> {
    if FIXED_ROLES.contains(&role) {
        return Ok(());
    }
    if let Some((kind, owner)) = role.split_once(':')
        && (kind == "head" || kind == "executor")
    {
        if org.department(owner).is_some() || org.territory(owner).is_some() {
            return Ok(());
        }
        return Err(format!(
            "unknown department or territory `{owner}` in role `{role}`"
        ));
    }
    Err(format!(
        "unknown role `{role}`; expected one of {}, head:<department or territory>, executor:<department or territory>",
        FIXED_ROLES.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(text: &str) -> Result<People, ConfigError> {
        People::parse(Path::new("people.toml"), text, &Org::embedded())
    }

    const TWO: &str = r#"
[[person]]
id = "petrov"
name = "Петров П. П."
roles = ["head:zhkh"]
[[person.absence]]
from = "2026-07-01"
until = "2026-07-14"
substitute = "sidorova"

[[person]]
id = "sidorova"
name = "Сидорова С. С."
roles = ["executor:zhkh"]
"#;

    #[test]
    fn substitute_acts_during_absence_only() {
        let p = people(TWO).unwrap();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let h = p.holders("head:zhkh", day("2026-06-30"));
        assert_eq!(h[0].person, "petrov");
        assert_eq!(h[0].acting_for, None);
        let h = p.holders("head:zhkh", day("2026-07-14"));
        assert_eq!(h[0].person, "sidorova");
        assert_eq!(h[0].acting_for.as_deref(), Some("petrov"));
        assert!(p.holders("curator", day("2026-07-01")).is_empty());
    }

    #[test]
    fn bad_roles_substitutes_and_circles_are_refused_with_the_key() {
        let e = people(&TWO.replace("head:zhkh", "head:nowhere")).unwrap_err();
        assert_eq!(e.key, "person[0].roles[0]");
        let e = people(&TWO.replace("\"sidorova\"\n\n", "\"nobody\"\n\n")).unwrap_err();
        assert_eq!(e.key, "person[0].absence[0].substitute");
        let circle = format!(
            "{TWO}[[person.absence]]\nfrom = \"2026-07-10\"\nuntil = \"2026-07-11\"\nsubstitute = \"petrov\"\n"
        );
        let e = people(&circle).unwrap_err();
        assert!(e.problem.contains("circle"), "{e}");
        let e =
            people("[[person]]\nid = \"a\"\nname = \"A\"\nroles = []\nphone = 1\n").unwrap_err();
        assert!(e.to_string().contains("phone"), "{e}");
    }

    #[test]
    fn embedded_people_cover_every_owner() {
        let org = Org::embedded();
        let p = People::embedded(&org);
        let day = "2026-11-26".parse().unwrap();
        for d in &org.departments {
            let owner = Owner::Department(d.id.clone());
            assert!(
                !p.holders(&executor_role(&owner), day).is_empty(),
                "{}",
                d.id
            );
            assert!(!p.holders(&head_role(&owner), day).is_empty(), "{}", d.id);
        }
        for t in &org.territories {
            let owner = Owner::Territory(t.id.clone());
            assert!(
                !p.holders(&executor_role(&owner), day).is_empty(),
                "{}",
                t.id
            );
        }
        for role in ["curator", "mcu-head", "im-coordinator", "admin"] {
            assert!(!p.holders(role, day).is_empty(), "{role}");
        }
    }
}
