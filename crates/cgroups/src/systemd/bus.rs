//! The D-Bus calls to systemd's manager, through the system bus (the user's session bus
//! for the user's manager), as runc and crun make them; each on a current-thread runtime
//! that ends with the call, so no thread outlives it. (systemd's private socket would save
//! the bus daemon's hop, but zbus rejects its replies: they name the well-known
//! `org.freedesktop.systemd1` as sender where a bus would put a unique name.)

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use zbus::export::futures_core::Stream;
use zbus::message::Type;
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::{Connection, MatchRule, Message, MessageStream};

use super::properties::UnitProperties;
use super::{Bus, Unit};
use crate::error::{Error, Result};

const DESTINATION: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a job may take; a scope's start or stop takes milliseconds.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// The bus's address: `DBUS_SYSTEM_BUS_ADDRESS` or the standard socket; for the user,
/// `DBUS_SESSION_BUS_ADDRESS` or `$XDG_RUNTIME_DIR/bus`.
fn address(bus: Bus) -> String {
    let (var, fallback) = match bus {
        Bus::System => (
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/run/dbus/system_bus_socket".to_string(),
        ),
        Bus::User => (
            "DBUS_SESSION_BUS_ADDRESS",
            format!(
                "unix:path={}/bus",
                std::env::var("XDG_RUNTIME_DIR")
                    .unwrap_or_else(|_| format!("/run/user/{}", berth_sys::ids::outer_uid()))
            ),
        ),
    };
    std::env::var(var)
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or(fallback)
}

/// Runs `call` against `unit`'s manager, naming `action` in any error.
fn with_manager<T, F, Fut>(unit: &Unit, action: &'static str, call: F) -> Result<T>
where
    F: FnOnce(Connection) -> Fut,
    Fut: Future<Output = std::result::Result<T, String>>,
{
    let fail = |reason: String| Error::Systemd {
        action,
        unit: unit.name.clone(),
        reason,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| fail(format!("start an event loop: {e}")))?;
    let address = address(unit.bus);
    let bus = if unit.bus == Bus::User {
        "user's"
    } else {
        "system"
    };
    let unreachable = |e: &dyn std::fmt::Display| {
        format!("connect to the {bus} bus at {address}: {e} (are systemd and D-Bus running?)")
    };
    rt.block_on(async {
        // A plain socket path is connected here: zbus would connect on a blocking-pool
        // thread, one thread start per call.
        let builder = match address.strip_prefix("unix:path=") {
            Some(path) if !path.contains(',') => {
                let stream = std::os::unix::net::UnixStream::connect(path)
                    .and_then(|s| s.set_nonblocking(true).map(|()| s))
                    .and_then(tokio::net::UnixStream::from_std)
                    .map_err(|e| unreachable(&e))?;
                zbus::connection::Builder::unix_stream(stream)
            }
            _ => zbus::connection::Builder::address(address.as_str())
                .map_err(|e| format!("D-Bus address {address:?}: {e}"))?,
        };
        // In rootless berth's user namespace the bus would see root claim the user's
        // connection: claim the user's own id.
        let builder = match berth_sys::ids::outer_uid() {
            uid if uid != berth_sys::ids::geteuid() => builder.user_id(uid),
            _ => builder,
        };
        let conn = builder.build().await.map_err(|e| unreachable(&e))?;
        call(conn).await
    })
    .map_err(fail)
}

/// systemd's error name and message, or the transport error.
fn describe(e: zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, Some(text), _) => format!("{text} ({name})"),
        other => other.to_string(),
    }
}

/// Whether `e` is systemd's error `org.freedesktop.systemd1.<name>`.
fn is_error(e: &zbus::Error, name: &str) -> bool {
    matches!(e, zbus::Error::MethodError(n, _, _)
        if n.as_str().strip_prefix("org.freedesktop.systemd1.") == Some(name))
}

/// The stream of JobRemoved signals, matched before the call whose job it waits for.
/// systemd sends a job's signals to the client that asked for the job without a
/// `Subscribe` (one round trip less, as runc and crun do).
async fn job_signals(conn: &Connection) -> std::result::Result<MessageStream, String> {
    let rule = MatchRule::builder()
        .msg_type(Type::Signal)
        .interface(MANAGER)
        .and_then(|b| b.member("JobRemoved"))
        .map(|b| b.build())
        .map_err(|e| e.to_string())?;
    MessageStream::for_match_rule(rule, conn, None)
        .await
        .map_err(|e| e.to_string())
}

/// Waits for `job`'s JobRemoved signal; Ok when its result is `done`.
async fn job_done(
    signals: &mut MessageStream,
    job: &OwnedObjectPath,
) -> std::result::Result<(), String> {
    let wait = async {
        while let Some(msg) = next_message(signals).await {
            let msg = msg.map_err(|e| e.to_string())?;
            let Ok((_, path, _, result)) = msg
                .body()
                .deserialize::<(u32, OwnedObjectPath, String, String)>()
            else {
                continue;
            };
            if &path == job {
                return match result.as_str() {
                    "done" => Ok(()),
                    other => Err(format!("the job ended with {other:?} (journalctl has why)")),
                };
            }
        }
        Err("the connection closed before the job ended".to_string())
    };
    tokio::time::timeout(JOB_TIMEOUT, wait)
        .await
        .map_err(|_| format!("no answer within {JOB_TIMEOUT:?}"))?
}

/// Makes `unit`, a scope in its slice holding `pid`, delegated to us, with `props`; returns
/// once systemd has moved the process in. A unit of that name that exists already, in the
/// same slice (so at the same cgroup), is stopped first when `replaceable` says so (it holds
/// no processes: this container's, deleted a moment ago, not yet stopped by systemd); any
/// other is another container's, and systemd's error is returned.
pub(crate) fn start_scope(
    unit: &Unit,
    pid: i32,
    props: UnitProperties,
    replaceable: impl FnOnce() -> bool,
) -> Result<()> {
    let mut all: Vec<(String, Value<'static>)> = vec![
        (
            "Description".into(),
            Value::from(format!("berth container {}", unit.name)),
        ),
        ("Slice".into(), Value::from(unit.slice.clone())),
        ("Delegate".into(), Value::from(true)),
        ("PIDs".into(), Value::from(vec![pid as u32])),
        // No ordering against shutdown targets: a container's scope stops with its processes.
        ("DefaultDependencies".into(), Value::from(false)),
        // Unloaded once stopped, even after a failure (an OOM kill): nothing stays behind.
        ("CollectMode".into(), Value::from("inactive-or-failed")),
    ];
    all.extend(props.0);
    with_manager(unit, "start the scope", |conn| async move {
        let mut signals = job_signals(&conn).await?;
        let reply = match start_transient(&conn, unit, all.clone()).await {
            Err(e) if is_error(&e, "UnitExists") => match scope_slice(&conn, unit).await {
                // Gone meanwhile.
                Ok(None) => start_transient(&conn, unit, all).await,
                Ok(Some(slice)) if slice == unit.slice && replaceable() => {
                    stop(&conn, &mut signals, unit).await?;
                    start_transient(&conn, unit, all).await
                }
                _ => Err(e),
            },
            reply => reply,
        }
        .map_err(describe)?;
        let job: OwnedObjectPath = reply.body().deserialize().map_err(|e| e.to_string())?;
        job_done(&mut signals, &job).await
    })
}

/// The slice of the loaded scope `unit`; None when systemd does not know it.
async fn scope_slice(conn: &Connection, unit: &Unit) -> zbus::Result<Option<String>> {
    let reply = conn
        .call_method(
            Some(DESTINATION),
            PATH,
            Some(MANAGER),
            "GetUnit",
            &(unit.name.as_str(),),
        )
        .await;
    let path: OwnedObjectPath = match reply {
        Ok(r) => r.body().deserialize()?,
        Err(e) if is_error(&e, "NoSuchUnit") => return Ok(None),
        Err(e) => return Err(e),
    };
    let reply = conn
        .call_method(
            Some(DESTINATION),
            path.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.freedesktop.systemd1.Scope", "Slice"),
        )
        .await?;
    let value: zbus::zvariant::OwnedValue = reply.body().deserialize()?;
    Ok(Some(String::try_from(value)?))
}

async fn start_transient(
    conn: &Connection,
    unit: &Unit,
    properties: Vec<(String, Value<'static>)>,
) -> zbus::Result<Message> {
    let aux: Vec<(String, Vec<(String, Value<'static>)>)> = Vec::new();
    conn.call_method(
        Some(DESTINATION),
        PATH,
        Some(MANAGER),
        "StartTransientUnit",
        &(unit.name.as_str(), "replace", properties, aux),
    )
    .await
}

/// Sets `props` on the running unit (runtime only, as runc does).
pub(crate) fn update_unit(unit: &Unit, props: UnitProperties) -> Result<()> {
    with_manager(unit, "update", |conn| async move {
        conn.call_method(
            Some(DESTINATION),
            PATH,
            Some(MANAGER),
            "SetUnitProperties",
            &(unit.name.as_str(), true, props.0),
        )
        .await
        .map(drop)
        .map_err(describe)
    })
}

/// Stops the unit and waits until it is gone; a unit systemd no longer knows (it stops a
/// scope by itself once its processes are gone) is not an error.
pub(crate) fn stop_unit(unit: &Unit) -> Result<()> {
    with_manager(unit, "stop", |conn| async move {
        let mut signals = job_signals(&conn).await?;
        stop(&conn, &mut signals, unit).await
    })
}

/// [`stop_unit`] on a connection whose JobRemoved signals `signals` receives.
async fn stop(
    conn: &Connection,
    signals: &mut MessageStream,
    unit: &Unit,
) -> std::result::Result<(), String> {
    let reply = conn
        .call_method(
            Some(DESTINATION),
            PATH,
            Some(MANAGER),
            "StopUnit",
            &(unit.name.as_str(), "replace"),
        )
        .await;
    match reply {
        Ok(reply) => {
            let job: OwnedObjectPath = reply.body().deserialize().map_err(|e| e.to_string())?;
            job_done(signals, &job).await
        }
        Err(e) if is_error(&e, "NoSuchUnit") => Ok(()),
        Err(e) => Err(describe(e)),
    }
}

/// The next message of the stream (a futures crate just for `StreamExt::next` is not worth
/// its weight).
async fn next_message(s: &mut MessageStream) -> Option<zbus::Result<Message>> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}
