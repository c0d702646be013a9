//! `create`: a container from an image — its record, root filesystem, `/etc` files, volumes
//! and OCI bundle. The flags, the image and the generated config are all checked before
//! anything is made; a failure after that removes what the earlier steps made (but a named
//! volume made on first use, which docker keeps too).

use crate::config::{self, EtcFiles, Inputs};
use crate::health::ImageHealthcheck;
use crate::options::{self, Network, RunOptions, Settings, Sharing, UserMount};
use crate::record::{Lock, Record, State};
use crate::run::terminal_size;
use crate::time::Timestamp;
use crate::volumes::lifecycle::Claimed;
use crate::workdir::make_workdir;
use crate::{names, Engine, Error};
use berth_image::spec::{image_spec, resolve_groups, ContainerSpec, Overrides};
use berth_image::store::{Durability, Image};
use serde_json::Value;

/// A container about to be made: everything checked, nothing on disk yet.
struct Plan {
    id: String,
    image: Image,
    spec: ContainerSpec,
    settings: Settings,
    etc: EtcFiles,
    config: Value,
    /// `config`, checked, as written to `config.json`.
    config_bytes: Vec<u8>,
}

impl Engine {
    /// Creates a container (with `-t`, its terminal gets the caller's size).
    pub fn create(&self, o: &RunOptions) -> Result<Record, Error> {
        if let Some(n) = &o.name {
            names::validate(n)?;
        }
        if let Some(p) = o.cidfile.as_ref().filter(|p| p.exists()) {
            return Err(Error::Options(crate::options::bad(
                "--cidfile",
                &p.display().to_string(),
                "the file exists",
            )));
        }
        let console = if o.tty { terminal_size() } else { None };
        let plan = self.plan(o, console)?;
        let Some(lock) = self.containers.create_dir(&plan.id)? else {
            return Err(Error::Failed {
                name: plan.id,
                reason: "a container with this id exists".into(),
            });
        };
        let r = self
            .make(&plan, o, &lock)
            .and_then(|r| match &o.cidfile {
                Some(p) => std::fs::write(p, &r.id).map(|()| r).map_err(Error::path(p)),
                None => Ok(r),
            })
            .inspect_err(|_| {
                let _ = self.discard(&plan.id, None);
            })?;
        self.event(&r, "create", &[]);
        Ok(r)
    }

    fn plan(&self, o: &RunOptions, console: Option<(u16, u16)>) -> Result<Plan, Error> {
        let mut settings = o.check(&|k| std::env::var(k).ok())?;
        // A namespace shared with another container names it by id from now on.
        for sharing in [
            &mut settings.tuning.pid,
            &mut settings.tuning.ipc,
            &mut settings.tuning.uts,
        ] {
            if let Sharing::Container(other) = sharing {
                *other = self.containers.resolve(other)?;
            }
        }
        if settings.hostname.is_some() && settings.tuning.uts != Sharing::Private {
            return Err(Error::Options(crate::options::bad(
                "--hostname",
                settings.hostname.as_deref().unwrap_or_default(),
                "the container has no UTS namespace of its own (--uts)",
            )));
        }
        let image = self.store.image(&o.image)?;
        settings.health = o
            .health
            .check(image_healthcheck(&self.store, &image).as_ref())?;
        let overrides = Overrides {
            entrypoint: settings.entrypoint.clone(),
            cmd: settings.command.clone(),
            env: settings.env.clone(),
            user: settings.user.clone(),
            workdir: settings.workdir.clone(),
        };
        let mut spec = image_spec(&self.store, &image, &overrides)?;
        if !settings.tuning.group_add.is_empty() {
            let read = |p: &str| self.store.read_image_file(&image, p).ok().flatten();
            let gids = resolve_groups(&settings.tuning.group_add, &read, &o.image)?;
            for g in gids {
                if !spec.user.additional_gids.contains(&g) {
                    spec.user.additional_gids.push(g);
                }
            }
        }
        let inherited = self.inherited_mounts(&o.volumes_from)?;
        settings.mounts = options::complete(settings.mounts, inherited, &spec.volumes)?;
        for m in &mut settings.mounts {
            if let UserMount::Volume { name, .. } = m {
                if name.is_empty() {
                    *name = names::new_id()?;
                }
            }
        }
        let shared = self.plan_network(&mut settings, &spec.exposed_ports)?;
        let id = names::new_id()?;
        let read_name = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .map(|h| h.trim().to_string())
                .map_err(Error::path(p))
        };
        let own_uts = settings.tuning.uts == Sharing::Private;
        let hostname = match (&settings.hostname, settings.network, &shared) {
            (Some(h), _, _) => h.clone(),
            (None, _, Some(dir)) if own_uts => read_name(&dir.join("hostname"))?,
            (
                None,
                Network::None | Network::Bridge | Network::Pasta | Network::Slirp4netns,
                None,
            ) if own_uts => id[..12].to_string(),
            (None, _, _) => read_name("/proc/sys/kernel/hostname".as_ref())?,
        };
        let etc = match &shared {
            Some(dir) => EtcFiles::shared(dir),
            None => EtcFiles::new(&hostname, settings.network),
        };
        let dir = self.containers.dir(&id);
        let root = self.store.rootfs_mount_point(&id)?;
        let config = config::build(&Inputs {
            id: &id,
            spec: &spec,
            settings: &settings,
            hostname: &hostname,
            console,
            dir: &dir,
            shared: &self.containers.shared_dir(),
            volumes: self.volumes.base(),
            etc: &etc,
            root: &root,
            cdi_spec_dirs: &self.runtime.cdi_spec_dirs,
        })?;
        let config_bytes = config::check(&config)?;
        Ok(Plan {
            id,
            image,
            spec,
            settings,
            etc,
            config,
            config_bytes,
        })
    }

    /// Makes the planned container in its (locked) directory.
    fn make(&self, p: &Plan, o: &RunOptions, _lock: &Lock) -> Result<Record, Error> {
        let name = match &o.name {
            Some(n) => {
                self.containers.reserve_name(n, &p.id)?;
                n.clone()
            }
            None => self.containers.reserve_generated_name(&p.id)?,
        };
        self.fill(p, o, name.clone())
            .inspect_err(|_| self.containers.release_name(&name, &p.id))
    }

    /// Fills the container's directory; its volumes stay locked until the record names them.
    fn fill(&self, p: &Plan, o: &RunOptions, name: String) -> Result<Record, Error> {
        let volumes = self.claim_volumes(&p.settings.mounts)?;
        let made = self.fill_claimed(p, o, name, &volumes);
        if made.is_err() {
            self.unclaim(volumes);
        }
        made
    }

    fn fill_claimed(
        &self,
        p: &Plan,
        o: &RunOptions,
        name: String,
        volumes: &Claimed,
    ) -> Result<Record, Error> {
        let dir = self.containers.dir(&p.id);
        p.etc.write(&dir)?;
        if p.settings.init {
            config::init::install(&self.containers.shared_dir())?;
        }
        // A container removed when it ends needs no changes kept past a crash.
        let durability = match p.settings.auto_remove || o.volatile {
            true => Durability::Volatile,
            false => Durability::Synced,
        };
        let stubs = config::stubbed(&p.config, &p.settings.mounts);
        let rootfs = self
            .store
            .create_rootfs(&p.image, &p.id, durability, &stubs)?;
        make_workdir(&rootfs.path, &p.spec.cwd)?;
        self.fill_volumes(volumes, &p.settings.mounts, &rootfs.path)?;
        let path = dir.join("config.json");
        std::fs::write(&path, &p.config_bytes).map_err(Error::path(&path))?;
        let record = Record {
            id: p.id.clone(),
            name,
            image: o.image.clone(),
            image_id: p.image.id.to_string(),
            created: Timestamp::now(),
            command: p.spec.args.clone(),
            state: State::Created,
            exit_code: None,
            started_at: None,
            finished_at: None,
            oom_killed: false,
            health: None,
            restart_count: 0,
            manually_stopped: false,
            monitor: None,
            error: None,
            stop_signal: p
                .settings
                .stop_signal
                .clone()
                .or_else(|| p.spec.stop_signal.clone())
                .unwrap_or_else(|| "SIGTERM".into()),
            settings: p.settings.clone(),
        };
        config::markers::write(&dir, &self.containers.shared_dir(), &record)?;
        self.containers.save(&record)?;
        Ok(record)
    }
}

/// The image's HEALTHCHECK, which the OCI config types do not carry: read from the raw
/// config (docker's `config.Healthcheck`).
fn image_healthcheck(store: &berth_image::store::Store, image: &Image) -> Option<ImageHealthcheck> {
    let raw: Value = serde_json::from_slice(&store.read_blob(&image.id).ok()?).ok()?;
    serde_json::from_value(raw["config"]["Healthcheck"].clone()).ok()
}
