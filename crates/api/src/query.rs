//! A request's query string: docker's flags (`1`, `true`), numbers and `filters` (a JSON
//! object of lists, or of `{"value": true}` maps in old clients).

use crate::error::ApiError;

pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter given several times (`names=a&names=b`).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter: `1`, `true` or `True` are set, anything else is not.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True"))
    }

    /// A number parameter; absent or empty is `None`, anything else not a number an error.
    pub fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("{key}={v:?}: not a number"))),
        }
    }

    /// The `filters` parameter as `(key, value)` pairs.
    pub fn filters(&self) -> Result<Vec<(String, String)>, ApiError> {
        let Some(raw) = self.get("filters").filter(|f| !f.is_empty()) else {
            return Ok(Vec::new());
        };
        let bad = |e: String| ApiError::bad_request(format!("filters={raw:?}: {e}"));
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        let mut out = Vec::new();
        for (key, values) in map {
            match values {
                serde_json::Value::Array(vs) => {
                    for v in vs {
                        let v = v
                            .as_str()
                            .ok_or_else(|| bad(format!("{key}: not a string")))?;
                        out.push((key.clone(), v.to_string()));
                    }
                }
                serde_json::Value::Object(vs) => {
                    out.extend(
                        vs.into_iter()
                            .filter(|(_, on)| *on == true)
                            .map(|(v, _)| (key.clone(), v)),
                    );
                }
                _ => return Err(bad(format!("{key}: want a list"))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn flags_numbers_and_filters() {
        let q = Query::parse(Some(
            "all=1&t=10&follow=true&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%2C%22status%22%3A%7B%22running%22%3Atrue%7D%7D",
        ));
        assert!(q.flag("all") && q.flag("follow") && !q.flag("stream"));
        assert_eq!(q.number::<u64>("t").unwrap(), Some(10));
        let mut f = q.filters().unwrap();
        f.sort();
        assert_eq!(
            f,
            [
                ("label".into(), "a=b".into()),
                ("status".into(), "running".into())
            ]
        );
        assert!(Query::parse(Some("t=x")).number::<u64>("t").is_err());
    }
}
