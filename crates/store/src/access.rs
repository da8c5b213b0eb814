//! Facts about access: the institution registry, viewing consents, disaster declarations and
//! the record of emergency and disaster accesses. The store keeps and returns them; it decides
//! nothing (the decision is `clins::policy::decide`, called by the application core).

use crate::driver::{Conn, Param, Row};
use crate::{stored, unpack, Store, StoreError, RESOURCE_COLUMNS, RESOURCE_UNIT};

/// A registered institution or insurer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionRow {
    pub number: String,
    /// `hospital`, `clinic`, `dental`, `pharmacy`, `checkup` or `insurer`.
    pub kind: String,
    pub name: String,
    pub prefecture: i64,
    pub enabled: bool,
    pub updated_at: String,
}

/// A viewing consent: `member_id` (normalised) lets `institution` view from `start` to `end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRow {
    pub consent_id: String,
    pub member_id: String,
    pub institution: String,
    /// `patient` or `qualification-service`.
    pub granted_by: String,
    pub start: String,
    pub end: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// How [`Store::patient_facts`] names its patient.
#[derive(Clone, Copy, Debug)]
pub enum PatientSel<'a> {
    /// By normalised member id.
    Member(&'a str),
    /// By patient key.
    Key(i64),
}

/// What [`Store::patient_facts`] found: the patient (key, member id, current Patient
/// resource), the grants (newest first) and the current resources (newest registration
/// first).
#[derive(Clone, Debug, Default)]
pub struct PatientFacts {
    pub patient: Option<(i64, String, Vec<u8>)>,
    pub consents: Vec<ConsentRow>,
    pub resources: Vec<crate::StoredResource>,
}

/// A disaster declaration by the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisasterRow {
    pub disaster_id: String,
    pub start: String,
    pub end: String,
    pub prefectures: Vec<u8>,
    pub institutions: Vec<String>,
    pub created_at: String,
    pub ended_at: Option<String>,
}

/// One access without consent (emergency or disaster), kept for the patient to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    pub at: String,
    pub member_id: String,
    pub institution: String,
    pub practitioner: String,
    /// `emergency` or `disaster`.
    pub basis: String,
    /// What was asked (e.g. `GET Patient/$summary`), without query values.
    pub request: String,
}

fn institution(row: Row) -> InstitutionRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    InstitutionRow {
        number: next().text(),
        kind: next().text(),
        name: next().text(),
        prefecture: next().int(),
        enabled: next().int() != 0,
        updated_at: next().text(),
    }
}

const CONSENT_COLUMNS: &str = "consent_id, member_id, institution, granted_by, period_start, period_end, created_at, revoked_at";

fn consent(row: Row) -> ConsentRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    ConsentRow {
        consent_id: next().text(),
        member_id: next().text(),
        institution: next().text(),
        granted_by: next().text(),
        start: next().text(),
        end: next().text(),
        created_at: next().text(),
        revoked_at: next().opt_text(),
    }
}

fn disaster(row: Row) -> DisasterRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Param::Null);
    let split = |s: String| -> Vec<String> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    DisasterRow {
        disaster_id: next().text(),
        start: next().text(),
        end: next().text(),
        prefectures: split(next().text())
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect(),
        institutions: split(next().text()),
        created_at: next().text(),
        ended_at: next().opt_text(),
    }
}

/// 128 random bits as 32 hex digits, from the operating system: ids that reveal neither
/// counts nor order.
pub fn random_id() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        // No urandom: the clock and a counter, hashed (unique, not secret).
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ t as u64;
        for (i, x) in b.iter_mut().enumerate() {
            h = (h ^ (n + i as u64)).wrapping_mul(0x100_0000_01b3);
            *x = (h >> 24) as u8;
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One row of a patient's 4 情報 (normalised name, date of birth, sex, address as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemographicsRow {
    pub name_key: String,
    pub birth_date: String,
    pub gender: String,
    pub address: String,
}

/// Replaces the 4 情報 rows of a patient inside a write (`fresh`: a patient created in this
/// write, with no rows yet). One statement for the rows.
pub(crate) fn replace_demographics(
    c: &mut dyn Conn,
    patient_key: i64,
    rows: &[DemographicsRow],
    fresh: bool,
) -> Result<(), crate::DbError> {
    if !fresh {
        c.execute(
            "DELETE FROM patient_demographics WHERE patient_key = ?1",
            &[patient_key.into()],
        )?;
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO patient_demographics (patient_key, name_key, birth_date, gender, address) VALUES ",
    );
    let mut params: Vec<Param> = vec![patient_key.into()];
    for (i, r) in rows.iter().enumerate() {
        let n = params.len();
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(?1, ?{}, ?{}, ?{}, ?{})",
            n + 1,
            n + 2,
            n + 3,
            n + 4
        ));
        params.extend([
            r.name_key.clone().into(),
            r.birth_date.clone().into(),
            r.gender.clone().into(),
            r.address.clone().into(),
        ]);
    }
    sql.push_str(" ON CONFLICT DO NOTHING");
    c.execute(&sql, &params)?;
    Ok(())
}

/// Adds or replaces a registry entry inside a write.
pub(crate) fn upsert_institution(
    c: &mut dyn Conn,
    r: &InstitutionRow,
) -> Result<(), crate::DbError> {
    let p = [
        r.number.clone().into(),
        r.kind.clone().into(),
        r.name.clone().into(),
        r.prefecture.into(),
        i64::from(r.enabled).into(),
        r.updated_at.clone().into(),
    ];
    let n = c.execute(
        "UPDATE institutions SET kind = ?2, name = ?3, prefecture = ?4, enabled = ?5, updated_at = ?6 WHERE number = ?1",
        &p,
    )?;
    if n == 0 {
        c.execute(
            "INSERT INTO institutions (number, kind, name, prefecture, enabled, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &p,
        )?;
    }
    Ok(())
}

impl Store {
    /// A secret of this installation (made from random bits the first time it is asked for,
    /// then kept): e.g. the key of the permutation that makes ids opaque.
    pub fn secret(&self, name: &str) -> Result<String, StoreError> {
        self.setting_or(name, || format!("{}{}", random_id(), random_id()))
    }

    /// The setting `name`; when there is none yet, `make`'s value is stored and returned (of
    /// several processes that race, all get the first one stored).
    pub fn setting_or(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        let get = |s: &Store| {
            s.read(|c| {
                Ok(
                    c.query("SELECT value FROM settings WHERE name = ?1", &[name.into()])?
                        .into_iter()
                        .next()
                        .and_then(|r| r.into_iter().next())
                        .map(|v| v.text()),
                )
            })
        };
        if let Some(v) = get(self)? {
            return Ok(v);
        }
        let (n, v) = (name.to_string(), make());
        self.write(move |c| {
            c.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                &[n.clone().into(), v.clone().into()],
            )?;
            Ok(())
        })?;
        get(self)?.ok_or(StoreError::NotFound)
    }

    /// Replaces the 4 情報 rows of a patient (submissions write them with the Patient).
    pub fn put_demographics(
        &self,
        patient_key: i64,
        rows: &[DemographicsRow],
    ) -> Result<(), StoreError> {
        let rows = rows.to_vec();
        self.write(move |c| Ok(replace_demographics(c, patient_key, &rows, false)?))
    }

    /// The patients with this normalised name, date of birth and sex, with their addresses.
    pub fn find_demographics(
        &self,
        name_key: &str,
        birth_date: &str,
        gender: &str,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT patient_key, address FROM patient_demographics WHERE name_key = ?1 AND birth_date = ?2 AND gender = ?3 LIMIT 1000",
                &[name_key.into(), birth_date.into(), gender.into()],
            )?
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let k = it.next().map_or(0, |v| v.int());
                (k, it.next().map(|v| v.text()).unwrap_or_default())
            })
            .collect())
        })
    }

    /// Registers an institution, or updates its kind, name and prefecture (enabled either way).
    pub fn put_institution(&self, row: &InstitutionRow) -> Result<(), StoreError> {
        let r = row.clone();
        self.write(move |c: &mut dyn Conn| Ok(upsert_institution(c, &r)?))
    }

    /// Enables or disables a registered institution; `false` when it is not registered.
    pub fn set_institution_enabled(
        &self,
        number: &str,
        enabled: bool,
        now: &str,
    ) -> Result<bool, StoreError> {
        let (number, now) = (number.to_string(), now.to_string());
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE institutions SET enabled = ?2, updated_at = ?3 WHERE number = ?1",
                &[
                    number.clone().into(),
                    i64::from(enabled).into(),
                    now.clone().into(),
                ],
            )? > 0)
        })
    }

    pub fn institution(&self, number: &str) -> Result<Option<InstitutionRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT number, kind, name, prefecture, enabled, updated_at FROM institutions WHERE number = ?1",
                &[number.into()],
            )?
            .into_iter()
            .next()
            .map(institution))
        })
    }

    pub fn institutions(&self) -> Result<Vec<InstitutionRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT number, kind, name, prefecture, enabled, updated_at FROM institutions ORDER BY number",
                &[],
            )?
            .into_iter()
            .map(institution)
            .collect())
        })
    }

    pub fn add_consent(&self, row: &ConsentRow) -> Result<(), StoreError> {
        let r = row.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO consents ({CONSENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                &[
                    r.consent_id.clone().into(),
                    r.member_id.clone().into(),
                    r.institution.clone().into(),
                    r.granted_by.clone().into(),
                    r.start.clone().into(),
                    r.end.clone().into(),
                    r.created_at.clone().into(),
                    r.revoked_at.clone().into(),
                ],
            )?;
            Ok(())
        })
    }

    /// The grants of one patient to one institution, newest first.
    pub fn consents_for(
        &self,
        member_id: &str,
        institution: &str,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE member_id = ?1 AND institution = ?2 ORDER BY created_at DESC, consent_id"),
                &[member_id.into(), institution.into()],
            )?
            .into_iter()
            .map(consent)
            .collect())
        })
    }

    /// What a read of one patient needs, in one statement (one round trip on PostgreSQL):
    /// the patient, the grants of `consents_of` (the caller's institution) and, with
    /// `resources`, the current resources. Grants of a patient named by member id are found
    /// even when the patient is not stored; of one named by key, only when it is.
    pub fn patient_facts(
        &self,
        who: PatientSel<'_>,
        consents_of: Option<&str>,
        resources: bool,
    ) -> Result<PatientFacts, StoreError> {
        // One row shape for the three parts (column 0 says which): a patient row, a grant
        // (its texts in the text columns of a resource row) or a resource row
        // (`RESOURCE_COLUMNS`). Explicit casts keep PostgreSQL's pairwise UNION typing exact.
        let (sel, member, param) = match who {
            PatientSel::Member(m) => ("member_id", "?1", Param::from(m)),
            PatientSel::Key(k) => ("patient_key", "(SELECT member_id FROM p)", Param::Int(k)),
        };
        let mut sql = format!(
            "WITH p AS (SELECT patient_key, member_id, resource FROM patients WHERE {sel} = ?1) \
             SELECT 0, p.patient_key, p.member_id, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS BIGINT), \
             CAST(NULL AS TEXT), CAST(NULL AS BIGINT), p.resource, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT) FROM p"
        );
        let mut params = vec![param];
        if let Some(institution) = consents_of {
            sql.push_str(&format!(
                " UNION ALL SELECT 1, 0, consent_id, member_id, 0, institution, granted_by, period_start, period_end, 0, created_at, 0, NULL, revoked_at, NULL, NULL \
                 FROM consents WHERE member_id = {member} AND institution = ?2"
            ));
            params.push(institution.into());
        }
        if resources {
            sql.push_str(&format!(
                " UNION ALL SELECT 2, {RESOURCE_COLUMNS} FROM resources r {RESOURCE_UNIT} \
                 WHERE r.patient_key = (SELECT patient_key FROM p) AND r.current = 1 AND r.deleted = 0"
            ));
        }
        let rows = self.read(|c| c.query(&sql, &params))?;
        let mut facts = PatientFacts::default();
        for row in rows {
            let mut it = row.into_iter();
            let part = it.next().map_or(-1, |v| v.int());
            match part {
                0 => {
                    let cols: Vec<Param> = it.collect();
                    let get = |i: usize| cols.get(i).cloned().unwrap_or(Param::Null);
                    facts.patient = Some((get(0).int(), get(1).text(), unpack(get(11).blob())));
                }
                1 => {
                    let cols: Vec<Param> = it.collect();
                    let get = |i: usize| cols.get(i).cloned().unwrap_or(Param::Null);
                    facts.consents.push(ConsentRow {
                        consent_id: get(1).text(),
                        member_id: get(2).text(),
                        institution: get(4).text(),
                        granted_by: get(5).text(),
                        start: get(6).text(),
                        end: get(7).text(),
                        created_at: get(9).text(),
                        revoked_at: get(12).opt_text(),
                    });
                }
                _ => facts.resources.push(stored(it.collect())),
            }
        }
        facts.consents.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.consent_id.cmp(&b.consent_id))
        });
        facts.resources.sort_by(|a, b| {
            b.registered_at
                .cmp(&a.registered_at)
                .then_with(|| a.res_id.cmp(&b.res_id))
        });
        Ok(facts)
    }

    /// Every grant of a patient (`None`: of every patient), newest first, at most `limit`.
    pub fn consents(
        &self,
        member_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        // The limit is written into the statement: a bound LIMIT makes SQLite prepare the
        // statement again on every execution (see `Store::documents`).
        let limit = limit.max(0);
        self.read(|c| {
            let rows = match member_id {
                Some(m) => c.query(
                    &format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE member_id = ?1 ORDER BY created_at DESC, consent_id LIMIT {limit}"),
                    &[m.into()],
                )?,
                None => c.query(
                    &format!("SELECT {CONSENT_COLUMNS} FROM consents ORDER BY created_at DESC, consent_id LIMIT {limit}"),
                    &[],
                )?,
            };
            Ok(rows.into_iter().map(consent).collect())
        })
    }

    pub fn consent(&self, consent_id: &str) -> Result<Option<ConsentRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE consent_id = ?1"),
                &[consent_id.into()],
            )?
            .into_iter()
            .next()
            .map(consent))
        })
    }

    /// Marks a grant revoked at `now` (once: a second revocation keeps the first time).
    pub fn revoke_consent(&self, consent_id: &str, now: &str) -> Result<bool, StoreError> {
        let (id, now) = (consent_id.to_string(), now.to_string());
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE consents SET revoked_at = ?2 WHERE consent_id = ?1 AND revoked_at IS NULL",
                &[id.clone().into(), now.clone().into()],
            )? > 0)
        })
    }

    pub fn add_disaster(&self, row: &DisasterRow) -> Result<(), StoreError> {
        let r = row.clone();
        self.write(move |c| {
            let prefs: Vec<String> = r.prefectures.iter().map(u8::to_string).collect();
            c.execute(
                "INSERT INTO disasters (disaster_id, period_start, period_end, prefectures, institutions, created_at, ended_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                &[
                    r.disaster_id.clone().into(),
                    r.start.clone().into(),
                    r.end.clone().into(),
                    prefs.join(",").into(),
                    r.institutions.join(",").into(),
                    r.created_at.clone().into(),
                ],
            )?;
            Ok(())
        })
    }

    pub fn disasters(&self) -> Result<Vec<DisasterRow>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT disaster_id, period_start, period_end, prefectures, institutions, created_at, ended_at FROM disasters ORDER BY period_start DESC, disaster_id",
                &[],
            )?
            .into_iter()
            .map(disaster)
            .collect())
        })
    }

    /// Ends a declaration now; `false` when there is none with this id or it has ended.
    pub fn end_disaster(&self, disaster_id: &str, now: &str) -> Result<bool, StoreError> {
        let (id, now) = (disaster_id.to_string(), now.to_string());
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE disasters SET ended_at = ?2 WHERE disaster_id = ?1 AND ended_at IS NULL",
                &[id.clone().into(), now.clone().into()],
            )? > 0)
        })
    }

    pub fn record_access(&self, rec: &AccessRecord) -> Result<(), StoreError> {
        let r = rec.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO access_records (at, member_id, institution, practitioner, basis, request) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    r.at.clone().into(),
                    r.member_id.clone().into(),
                    r.institution.clone().into(),
                    r.practitioner.clone().into(),
                    r.basis.clone().into(),
                    r.request.clone().into(),
                ],
            )?;
            Ok(())
        })
    }

    /// The accesses without consent to a patient's data, newest first.
    pub fn access_records(&self, member_id: &str) -> Result<Vec<AccessRecord>, StoreError> {
        self.read(|c| {
            Ok(c.query(
                "SELECT at, member_id, institution, practitioner, basis, request FROM access_records WHERE member_id = ?1 ORDER BY at DESC, record_key DESC",
                &[member_id.into()],
            )?
            .into_iter()
            .map(|row| {
                let mut it = row.into_iter();
                let mut next = || it.next().unwrap_or(Param::Null).text();
                AccessRecord {
                    at: next(),
                    member_id: next(),
                    institution: next(),
                    practitioner: next(),
                    basis: next(),
                    request: next(),
                }
            })
            .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("clins-store-access-{}", random_id()));
        (Store::open_sqlite(&dir).expect("open"), dir)
    }

    #[test]
    fn access_facts_round_trip() {
        let (s, dir) = store();
        // Registry: insert, update, disable.
        let mut row = InstitutionRow {
            number: "1311111111".into(),
            kind: "hospital".into(),
            name: "A".into(),
            prefecture: 13,
            enabled: true,
            updated_at: "t1".into(),
        };
        s.put_institution(&row).unwrap();
        row.name = "B".into();
        s.put_institution(&row).unwrap();
        assert_eq!(s.institution("1311111111").unwrap(), Some(row.clone()));
        assert!(s
            .set_institution_enabled("1311111111", false, "t2")
            .unwrap());
        assert!(!s
            .set_institution_enabled("1399999999", false, "t2")
            .unwrap());
        assert!(!s.institution("1311111111").unwrap().unwrap().enabled);
        assert_eq!(s.institutions().unwrap().len(), 1);
        // Consents: by patient and institution, revocation once.
        let c = ConsentRow {
            consent_id: random_id(),
            member_id: "m1".into(),
            institution: "1311111111".into(),
            granted_by: "patient".into(),
            start: "a".into(),
            end: "b".into(),
            created_at: "a".into(),
            revoked_at: None,
        };
        s.add_consent(&c).unwrap();
        assert_eq!(s.consents_for("m1", "1311111111").unwrap(), vec![c.clone()]);
        assert!(s.consents_for("m1", "1322222222").unwrap().is_empty());
        assert!(s.revoke_consent(&c.consent_id, "r1").unwrap());
        assert!(!s.revoke_consent(&c.consent_id, "r2").unwrap());
        assert_eq!(
            s.consent(&c.consent_id)
                .unwrap()
                .unwrap()
                .revoked_at
                .as_deref(),
            Some("r1")
        );
        assert_eq!(s.consents(Some("m1"), 10).unwrap().len(), 1);
        assert_eq!(s.consents(None, 10).unwrap().len(), 1);
        // Disasters.
        let d = DisasterRow {
            disaster_id: "d1".into(),
            start: "a".into(),
            end: "b".into(),
            prefectures: vec![13, 27],
            institutions: vec!["1311111111".into()],
            created_at: "a".into(),
            ended_at: None,
        };
        s.add_disaster(&d).unwrap();
        assert_eq!(s.disasters().unwrap(), vec![d]);
        assert!(s.end_disaster("d1", "e").unwrap());
        assert!(!s.end_disaster("d1", "e").unwrap());
        // Access records, newest first.
        for at in ["t1", "t2"] {
            s.record_access(&AccessRecord {
                at: at.into(),
                member_id: "m1".into(),
                institution: "1311111111".into(),
                practitioner: "dr".into(),
                basis: "emergency".into(),
                request: "GET Patient/$summary".into(),
            })
            .unwrap();
        }
        let recs = s.access_records("m1").unwrap();
        assert_eq!(
            recs.iter().map(|r| r.at.as_str()).collect::<Vec<_>>(),
            ["t2", "t1"]
        );
        // 4 情報: replaced as a whole.
        let row = |n: &str, a: &str| DemographicsRow {
            name_key: n.into(),
            birth_date: "2000-01-01".into(),
            gender: "male".into(),
            address: a.into(),
        };
        s.put_demographics(7, &[row("x", "a1"), row("y", "a1")])
            .unwrap();
        s.put_demographics(7, &[row("x", "a2")]).unwrap();
        assert_eq!(
            s.find_demographics("x", "2000-01-01", "male").unwrap(),
            vec![(7, "a2".to_string())]
        );
        assert!(s
            .find_demographics("y", "2000-01-01", "male")
            .unwrap()
            .is_empty());
        // A secret is made once and kept.
        let k = s.secret("id-key").unwrap();
        assert_eq!(k.len(), 64);
        assert_eq!(s.secret("id-key").unwrap(), k);
        assert_ne!(s.secret("other").unwrap(), k);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
