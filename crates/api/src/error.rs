//! Errors as docker sends them: an HTTP status and `{"message": "..."}`.

use berth_engine::Error as EngineError;
use berth_image::store::StoreError;
use http::StatusCode;

/// A request that failed: the status docker gives that failure and its one-line message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// An endpoint or a setting berth does not serve: said so, never a silent success.
    pub fn not_supported(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{what} is not supported by berth's API service (docs/API.md)"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            e if e.is_not_found() => StatusCode::NOT_FOUND,
            EngineError::Options(_) | EngineError::Ambiguous(_) => StatusCode::BAD_REQUEST,
            EngineError::Image(StoreError::Ambiguous(_)) => StatusCode::BAD_REQUEST,
            EngineError::WrongState { .. }
            | EngineError::AlreadyRunning(_)
            | EngineError::NameInUse { .. }
            | EngineError::ImageInUse { .. }
            | EngineError::Network(berth_network::Error::InUse { .. })
            | EngineError::Volume(berth_engine::volumes::VolumeError::InUse { .. }) => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        EngineError::Image(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_get_dockers_statuses() {
        let e: ApiError = EngineError::NoSuchContainer("web".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "no such container: web");
        let e: ApiError = StoreError::NotFound("alpine".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError = EngineError::WrongState {
            name: "web".into(),
            state: "exited".into(),
            action: "attach to it",
        }
        .into();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }
}
