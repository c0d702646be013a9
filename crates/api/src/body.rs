//! Response bodies (whole JSON documents and streams fed by a blocking engine call) and
//! request bodies read with a limit.

use crate::error::ApiError;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, Infallible>;
pub type Reply = Response<Body>;

/// The most a JSON request body may hold: a create request with every setting is a few KiB.
const JSON_LIMIT: usize = 4 << 20;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    let mut r = Response::new(full(value.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn ok(value: &serde_json::Value) -> Reply {
    json(StatusCode::OK, value)
}

/// An answer with no body (`204 No Content`, `304 Not Modified`).
pub fn status(status: StatusCode) -> Reply {
    let mut r = Response::new(empty());
    *r.status_mut() = status;
    r
}

pub fn error(e: &ApiError) -> Reply {
    json(e.status, &serde_json::json!({ "message": e.message }))
}

/// Reads a JSON request body of type `T`; an empty body is `T::default()`.
pub async fn read_json<T>(body: hyper::body::Incoming) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned + Default,
{
    let data = read_all(body, JSON_LIMIT).await?;
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&data).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// Reads a whole request body of at most `limit` bytes.
pub async fn read_all(body: hyper::body::Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body: more than {limit} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(format!("request body: {e}"))),
    }
}

/// A body fed chunk by chunk from another task or thread; it ends when every sender is
/// gone. A client that goes away drops the body, and the feeder's next send fails: that is
/// how a streaming engine call learns to stop.
pub struct ChannelBody(mpsc::Receiver<Bytes>);

impl ChannelBody {
    /// The body and its sender; `depth` chunks wait before a send blocks.
    pub fn channel(depth: usize) -> (mpsc::Sender<Bytes>, Body) {
        let (tx, rx) = mpsc::channel(depth);
        (tx, ChannelBody(rx).boxed())
    }
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A reader over the chunks of a request body, for the blocking archive reader.
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl ChannelReader {
    /// Reads `body` as it comes (a task feeds it in).
    pub fn new(body: hyper::body::Incoming) -> Self {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            let mut body = body;
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    if tx.send(data).await.is_err() {
                        break;
                    }
                }
            }
        });
        ChannelReader {
            rx,
            chunk: Bytes::new(),
        }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.chunk = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// A writer into a streamed answer, for the blocking archive writer.
pub struct ChannelWriter(pub mpsc::Sender<Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::other("the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A streamed answer of `content_type`.
pub fn stream(content_type: &'static str, body: Body) -> Reply {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

/// The content type of a container's output stream: raw bytes with a terminal, else
/// docker's frames.
pub fn output_type(tty: bool) -> &'static str {
    match tty {
        true => "application/vnd.docker.raw-stream",
        false => "application/vnd.docker.multiplexed-stream",
    }
}

/// The answer that hands the connection over (`101`, `Upgrade: tcp`, as dockerd's), for
/// an output stream of `output_type(tty)`.
pub fn upgraded(tty: bool) -> Reply {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(output_type(tty)),
    );
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("Upgrade"),
    );
    h.insert(http::header::UPGRADE, http::HeaderValue::from_static("tcp"));
    r
}

/// docker's multiplexed stream frame: the stream (1 stdout, 2 stderr), three zero bytes,
/// the length big-endian, the data.
pub fn frame(stream: u8, data: &[u8]) -> Bytes {
    let mut f = Vec::with_capacity(8 + data.len());
    f.extend_from_slice(&[stream, 0, 0, 0]);
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    Bytes::from(f)
}

#[cfg(test)]
mod tests {
    #[test]
    fn frames_carry_stream_and_length() {
        let f = super::frame(2, b"oops\n");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&f[8..], b"oops\n");
    }
}
