//! `hms service install`: HMS as a systemd service (Linux) that starts with the computer, runs
//! as its own system user, keeps its data in one place and is restarted if it stops. `--print`
//! shows the unit file and the steps and changes nothing. Windows is not supported yet.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, Subcommand};

use hms_core::config::{absolute, Loaded};

use super::Failure;

/// The data directory of a service when none is configured.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/hms/data";
/// The unit's name.
pub const UNIT: &str = "hms.service";

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Install HMS as a systemd service: a system user, its folders, the unit file
    /// (/etc/systemd/system/hms.service), enabled at boot. Run as root. Linux only.
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Show the unit file and what would be done; change nothing.
    #[arg(long)]
    pub print: bool,
    /// The system user the service runs as (created when missing).
    #[arg(long, default_value = "hms", value_name = "NAME")]
    pub user: String,
    /// Address the service listens on [default: the configured one, 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Folder the unit file is written to.
    #[arg(long, default_value = "/etc/systemd/system", value_name = "DIR")]
    pub unit_dir: PathBuf,
}

/// What the unit is made of.
#[derive(Debug, Clone)]
pub struct Unit {
    pub binary: PathBuf,
    pub user: String,
    pub data_dir: PathBuf,
    pub backup_dir: PathBuf,
    pub config: Option<PathBuf>,
    pub bind: Option<String>,
}

impl Unit {
    /// The unit for this binary and configuration: the data directory configured (or
    /// [`DEFAULT_DATA_DIR`]), its backup folder, the configuration file if one was read.
    pub fn from_config(loaded: &Loaded, args: &InstallArgs) -> Result<Unit, Failure> {
        let binary = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| Failure(format!("cannot tell where the hms program is: {e}")))?;
        let mut config = loaded.config.clone();
        if !loaded.sources.contains_key("data_dir") {
            config.data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        }
        Ok(Unit {
            binary,
            user: args.user.clone(),
            data_dir: absolute(&config.data_dir),
            backup_dir: config.backup_folder(),
            config: loaded.file.as_deref().map(absolute),
            bind: args.bind.clone(),
        })
    }

    /// The folders the service writes: the data directory and the backup folder.
    fn writable(&self) -> Vec<&Path> {
        let mut dirs = vec![self.data_dir.as_path()];
        if !self.backup_dir.starts_with(&self.data_dir) {
            dirs.push(self.backup_dir.as_path());
        }
        dirs
    }

    /// The systemd unit file.
    pub fn text(&self) -> String {
        let mut exec = format!(
            "{} serve --data-dir {}",
            quote(&self.binary),
            quote(&self.data_dir)
        );
        if let Some(config) = &self.config {
            exec.push_str(&format!(" --config {}", quote(config)));
        }
        if let Some(bind) = &self.bind {
            exec.push_str(&format!(" --bind {bind}"));
        }
        let writable = self
            .writable()
            .iter()
            .map(|p| quote(p))
            .collect::<Vec<_>>()
            .join(" ");
        let home = self.data_dir.parent().unwrap_or(&self.data_dir);
        format!(
            "# HMS hospital management system, written by `hms service install`.\n\
             [Unit]\n\
             Description=HMS hospital management system\n\
             After=network-online.target postgresql.service\n\
             Wants=network-online.target\n\
             \n\
             [Service]\n\
             Type=simple\n\
             User={user}\n\
             Group={user}\n\
             WorkingDirectory={home}\n\
             ExecStart={exec}\n\
             # Stopped with SIGTERM: requests in flight finish (up to 30 s) and a backup under way\n\
             # may finish (up to 60 s) before HMS exits.\n\
             KillSignal=SIGTERM\n\
             TimeoutStopSec=120\n\
             Restart=on-failure\n\
             RestartSec=5\n\
             LimitNOFILE=65536\n\
             UMask=0027\n\
             NoNewPrivileges=yes\n\
             PrivateTmp=yes\n\
             ProtectSystem=strict\n\
             ProtectHome=yes\n\
             ReadWritePaths={writable}\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            user = self.user,
            home = quote(home),
        )
    }

    /// The steps `install` takes, as commands a person could type.
    fn steps(&self, unit_dir: &Path) -> Vec<String> {
        let home = self.data_dir.parent().unwrap_or(&self.data_dir);
        let mut steps = vec![format!(
            "useradd --system --user-group --home-dir {} --no-create-home --shell /usr/sbin/nologin {}   (when the user does not exist)",
            quote(home),
            self.user
        )];
        for dir in self.writable() {
            steps.push(format!(
                "install -d -o {u} -g {u} -m 0750 {}",
                quote(dir),
                u = self.user
            ));
        }
        steps.push(format!("write {}", quote(&unit_dir.join(UNIT))));
        steps.push("systemctl daemon-reload".into());
        steps.push(format!("systemctl enable {UNIT}"));
        steps
    }
}

/// Paths in the unit: quoted when they hold a space.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains(char::is_whitespace) {
        format!("\"{text}\"")
    } else {
        text
    }
}

pub fn run(cmd: ServiceCommand, loaded: &Loaded) -> Result<(), Failure> {
    let ServiceCommand::Install(args) = cmd;
    if !cfg!(target_os = "linux") {
        return Err(Failure(
            "running HMS as a service is supported on Linux (systemd) only for now; on Windows, \
             start HMS by hand (see the README). Nothing was changed."
                .into(),
        ));
    }
    let unit = Unit::from_config(loaded, &args)?;
    let mut notes = Vec::new();
    if unit.binary.starts_with("/home") || unit.binary.starts_with("/root") {
        notes.push(format!(
            "the service runs {}, which is inside a home folder that the service user cannot \
             read (ProtectHome): install the program first, e.g. \
             `sudo cargo install --path web --root /usr/local`, then run \
             `sudo /usr/local/bin/hms service install`",
            unit.binary.display()
        ));
    }
    for key in ["database_url", "smtp_url", "backup_dir"] {
        if matches!(
            loaded.sources.get(key),
            Some(hms_core::config::Source::Env(_) | hms_core::config::Source::Flag)
        ) {
            notes.push(format!(
                "{key} comes from the environment or the command line, which the service does \
                 not see: write it in a configuration file (e.g. /etc/hms/hms.toml, readable by \
                 root and the {} group only) and pass --config",
                unit.user
            ));
        }
    }
    if args.print {
        print!("{}", unit.text());
        println!("\n# `hms service install` (as root) would:");
        for step in unit.steps(&args.unit_dir) {
            println!("#   {step}");
        }
        for note in &notes {
            println!("# note: {note}");
        }
        return Ok(());
    }
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure(
            "installing a service needs root: run `sudo hms service install` (or add --print to \
             see what it would do). Nothing was changed."
                .into(),
        ));
    }
    if !Path::new("/run/systemd/system").is_dir() {
        return Err(Failure(
            "systemd is not running on this computer, so HMS cannot be installed as its \
             service; `hms service install --print` shows the unit file to adapt. Nothing was \
             changed."
                .into(),
        ));
    }
    for note in &notes {
        eprintln!("note: {note}");
    }
    install(&unit, &args.unit_dir)?;
    println!(
        "installed {} (user {}, data in {}, backups in {}).\n\
         Start it now:   systemctl start hms\n\
         See its state:  systemctl status hms   (its log: journalctl -u hms)\n\
         Run other hms commands as the service user, e.g.\n\
         \x20 sudo -u {} {} user list --data-dir {}",
        args.unit_dir.join(UNIT).display(),
        unit.user,
        unit.data_dir.display(),
        unit.backup_dir.display(),
        unit.user,
        unit.binary.display(),
        unit.data_dir.display()
    );
    Ok(())
}

fn install(unit: &Unit, unit_dir: &Path) -> Result<(), Failure> {
    let home = unit.data_dir.parent().unwrap_or(&unit.data_dir);
    let known = Command::new("id")
        .arg("-u")
        .arg(&unit.user)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !known {
        step(Command::new("useradd").args([
            "--system".as_ref(),
            "--user-group".as_ref(),
            "--home-dir".as_ref(),
            home.as_os_str(),
            "--no-create-home".as_ref(),
            "--shell".as_ref(),
            "/usr/sbin/nologin".as_ref(),
            unit.user.as_ref() as &std::ffi::OsStr,
        ]))?;
    }
    for dir in unit.writable() {
        step(
            Command::new("install")
                .args(["-d", "-o", &unit.user, "-g", &unit.user, "-m", "0750"])
                .arg(dir),
        )?;
    }
    let file = unit_dir.join(UNIT);
    std::fs::write(&file, unit.text())
        .map_err(|e| Failure(format!("cannot write {}: {e}", file.display())))?;
    step(Command::new("systemctl").arg("daemon-reload"))?;
    step(Command::new("systemctl").args(["enable", UNIT]))?;
    Ok(())
}

/// Runs one step; its failure stops the installation with what it said.
fn step(cmd: &mut Command) -> Result<(), Failure> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| Failure(format!("{shown} could not run: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Failure(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
