//! The `wdgate` command line: `serve`, `sim` and `check-config`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use std::time::Duration;

use wdgate::api::health::Readiness;
use wdgate::config::{Config, ProcessEnv, redact_url_credentials};
use wdgate::server::{self, ReloadingTls};
use wdgate::sim::{self, Simulator};

/// mimalloc: a gateway allocates and frees dozens of small buffers per request, and
/// mimalloc does that in a fraction of glibc malloc's instructions (see bench/results.md).
/// Built with `no_thp`: mimalloc would otherwise ask for transparent huge pages on its
/// arena, and each 2 MiB page the kernel backs is resident whole, most of it unused: an
/// idle gateway held 27 MiB with them and 21 MiB without.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The async runtime for `worker_threads` (0: one per CPU the process may use). One
/// thread gets tokio's single-threaded scheduler: with nothing to balance between
/// workers it skips the work-stealing machinery, and on one CPU it answers `GET /me`
/// about 11 % faster and a translated listing about 28 % faster (bench/results.md).
fn runtime(worker_threads: usize) -> tokio::runtime::Builder {
    let threads = match worker_threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder.enable_all();
    builder
}

/// A REST gateway in front of a Worldox Web server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Config file (default: config/wdgate.toml when it exists).
    #[arg(long, global = true, env = "WDGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (on the built-in simulator when no upstream is given).
    Serve {
        /// Address to listen on; port 0 picks one. The bound address is printed first on stdout.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Base URL of the Worldox Web server, e.g. https://worldox.example.com.
        #[arg(long)]
        upstream: Option<String>,
        /// Serve this folder's static files under /ui/ (the self-service page: --ui examples/web).
        #[arg(long, value_name = "DIR")]
        ui: Option<PathBuf>,
    },
    /// Run the Worldox simulator alone.
    Sim {
        /// Address to listen on; port 0 picks one. The bound address is printed first on stdout.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// TOML file of simulated users (default: the built-in demo users).
        #[arg(long)]
        users: Option<PathBuf>,
    },
    /// Print the effective config (secrets redacted) and exit 0 if it is valid.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Config is loaded and checked before any port is bound.
    let mut config = match Config::load(cli.config.as_deref(), &ProcessEnv) {
        Ok(config) => config,
        Err(e) => return fail(&format!("invalid configuration: {e}")),
    };
    if let Command::Serve {
        listen,
        upstream,
        ui,
    } = &cli.command
    {
        if let Some(listen) = listen {
            config.server.listen = *listen;
        }
        if let Some(upstream) = upstream {
            config.upstream.url = Some(upstream.clone());
        }
        if let Some(ui) = ui {
            config.server.ui_dir = Some(ui.clone());
        }
        if let Err(e) = config.validate() {
            return fail(&format!("invalid configuration: {e}"));
        }
    }
    if let Command::Sim {
        users: Some(users), ..
    } = &cli.command
    {
        config.sim.users_file = Some(users.clone());
    }
    if let Command::CheckConfig = cli.command {
        print!("{}", config.to_redacted_toml());
        return ExitCode::SUCCESS;
    }
    wdgate::telemetry::init(&config.log);
    let runtime = match runtime(config.server.worker_threads).build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { .. } => serve(config).await,
            Command::Sim { listen, .. } => run_sim(&config, listen).await,
            Command::CheckConfig => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

async fn serve(mut config: Config) -> Result<(), String> {
    // Signals first, so none meets its default action (SIGHUP would end the process).
    let mut signals =
        server::Signals::install().map_err(|e| format!("cannot register signals: {e}"))?;
    // The TLS pair is read before any port is bound: a bad file is the error, not a
    // taken port.
    let tls = match &config.server.tls {
        Some(tls_config) => Some(ReloadingTls::load(tls_config).map_err(|e| e.to_string())?),
        None => None,
    };
    server::fd_limit::raise(config.server.max_connections);
    let listener = bind(config.server.listen).await?;
    if config.upstream.url.is_none() {
        let sim = Simulator::new(&config.sim).map_err(|e| e.to_string())?;
        let sim_listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let sim_addr = local_addr(&sim_listener)?;
        tracing::warn!(
            simulator = %sim_addr,
            demo_users = %sim.users().join(", "),
            "DEMO MODE: no upstream.url is set, so wdgate talks to its built-in Worldox \
             simulator. Log in with a demo user (demo / demo). Set --upstream or \
             WDGATE_UPSTREAM_URL for a real Worldox server."
        );
        tokio::spawn(async move {
            if let Err(e) = sim::serve(sim_listener, sim).await {
                tracing::error!(error = %e, "the built-in simulator stopped");
            }
        });
        config.upstream.url = Some(format!("http://{sim_addr}"));
    }
    let hangup = signals.take_hangup();
    match (&tls, &config.server.tls) {
        (Some(tls), Some(tls_config)) => {
            tls.spawn_watcher(Duration::from_secs(tls_config.reload_interval_secs), hangup)
        }
        _ => {
            if let Some(hangup) = hangup {
                hangup.log_and_ignore();
            }
        }
    }
    let readiness = Readiness::new(Duration::from_secs(config.server.readiness_interval_secs));
    let app = wdgate::build_app_with(&config, readiness.clone()).map_err(|e| e.to_string())?;
    tokio::spawn(wdgate::metrics::run_upkeep());
    announce(&listener)?;
    tracing::info!(
        upstream = %redact_url_credentials(config.upstream.url.as_deref().unwrap_or("")),
        tls = tls.is_some(),
        "wdgate ready"
    );
    let delay = Duration::from_secs(config.server.shutdown_delay_secs);
    let options = server::Options::new(&config.server, tls);
    server::serve(listener, app, options, drain(signals, readiness, delay)).await;
    tracing::info!("wdgate stopped");
    Ok(())
}

/// Resolves when the listener should close: at SIGTERM or SIGINT `/readyz` turns 503,
/// then everything is still served for `delay` (so a load balancer notices first),
/// which a second signal cuts short.
async fn drain(mut signals: server::Signals, readiness: Readiness, delay: Duration) {
    let signal = signals.shutdown_requested().await;
    readiness.begin_draining();
    if delay.is_zero() {
        tracing::info!(signal, "shutdown signal received");
        return;
    }
    tracing::info!(
        signal,
        delay_secs = delay.as_secs(),
        "shutdown signal received; /readyz answers 503 while requests are still served \
         for the shutdown delay (a second signal skips it)"
    );
    tokio::select! {
        () = tokio::time::sleep(delay) => tracing::info!("shutdown delay over"),
        second = signals.shutdown_requested() => {
            tracing::info!(signal = second, "second signal; skipping the rest of the shutdown delay");
        }
    }
}

async fn run_sim(config: &Config, listen: SocketAddr) -> Result<(), String> {
    let mut signals =
        server::Signals::install().map_err(|e| format!("cannot register signals: {e}"))?;
    if let Some(hangup) = signals.take_hangup() {
        hangup.log_and_ignore();
    }
    let sim = Simulator::new(&config.sim).map_err(|e| e.to_string())?;
    let listener = bind(listen).await?;
    announce(&listener)?;
    tracing::info!(users = %sim.users().join(", "), "Worldox simulator ready");
    tokio::select! {
        result = sim::serve(listener, sim) => result.map_err(|e| format!("simulator error: {e}")),
        _ = signals.shutdown_requested() => Ok(()),
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))
}

/// Prints the bound address as stdout's first line, so a caller using port 0 can find it.
fn announce(listener: &TcpListener) -> Result<(), String> {
    let addr = local_addr(listener)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("wdgate: {message}");
    ExitCode::from(2)
}
