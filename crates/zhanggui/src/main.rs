//! The `zhanggui` command: serve, migrate, demo and the administration commands. Each command
//! parses its flags and hands over to the library; nothing here holds a business rule.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use zhanggui::accounts::model::AccountInput;
use zhanggui::merchants::model::MerchantInput;
use zhanggui::platform::auth::model::{
    Role, check_password_strength, hash_password, random_token, validate_username,
};
use zhanggui::platform::auth::store as auth_store;
use zhanggui::platform::clock::Clock;
use zhanggui::platform::config::{Config, Mode};
use zhanggui::platform::db::Db;
use zhanggui::platform::error::AppError;
use zhanggui::platform::i18n::Lang;
use zhanggui::platform::server;
use zhanggui::platform::state::AppState;

/// mimalloc rather than glibc's malloc: a callback answered by a rule cost 10-25% less CPU
/// with it, and 10,000 rules no longer slowed every callback down (BENCHMARKS.md, "Reply
/// rules", sixth round; docs/ARCHITECTURE.md, "The allocator").
#[global_allocator]
static ALLOCATOR: zhanggui::platform::memory::Allocator = zhanggui::platform::memory::Allocator;

#[derive(Parser)]
#[command(
    name = "zhanggui",
    version,
    about = "Zhanggui (掌柜): a back office for WeChat Official Accounts"
)]
struct Cli {
    /// A TOML config file (default: ./zhanggui.toml if present). ZG_* variables override it.
    #[arg(long, global = true, env = "ZG_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default): migrate, start job workers, serve the console and API.
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Create the demo merchant, its staff and sandbox accounts (idempotent).
    Demo,
    /// Merchants (tenants).
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// Staff and platform admins.
    #[command(subcommand)]
    User(UserCommand),
    /// Official accounts (公众号).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run only the emulated WeChat API, with WeChat's paths at the root (for tests,
    /// benchmarks and SDKs). It serves the sandbox accounts of the same database.
    Sandbox(SandboxArgs),
}

#[derive(Args)]
struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: std::net::SocketAddr,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on (overrides ZG_LISTEN).
    #[arg(long)]
    listen: Option<String>,
    /// Do not create the demo merchant on a new sandbox install.
    #[arg(long)]
    no_demo: bool,
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Add a merchant.
    Add {
        #[arg(long)]
        name: String,
        /// IANA time zone (default Asia/Shanghai).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// List merchants.
    List,
}

#[derive(Args)]
struct PasswordArgs {
    /// The password (visible in shell history; prefer --password-stdin).
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user: staff of a merchant with a role, or a platform admin.
    /// Without a password flag a random password is generated and printed.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        display_name: String,
        /// The merchant (id or exact name) the user works for.
        #[arg(long, required_unless_present = "platform_admin")]
        merchant: Option<String>,
        /// owner, operator, agent or clerk.
        #[arg(long, default_value = "operator")]
        role: String,
        /// Make the user a platform admin (sees and creates every merchant).
        #[arg(long)]
        platform_admin: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set a user's password (also clears a lock-out and signs the user out everywhere).
    Passwd {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add an official account and print its callback URL, Token and EncodingAESKey.
    Add(AccountAddArgs),
    /// List official accounts.
    List {
        /// Only this merchant's (id or name).
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Show one account (secrets masked) and its callback URL.
    Show { id: i64 },
}

#[derive(Args)]
struct AccountAddArgs {
    /// The merchant (id or exact name).
    #[arg(long)]
    merchant: String,
    #[arg(long)]
    name: String,
    /// subscription (订阅号) or service (服务号).
    #[arg(long = "type", default_value = "service")]
    kind: String,
    /// The account is verified (已认证).
    #[arg(long)]
    verified: bool,
    /// wx + 16 hex digits (generated for sandbox accounts when omitted).
    #[arg(long)]
    app_id: Option<String>,
    /// 32 hex digits (generated for sandbox accounts when omitted).
    #[arg(long, env = "ZG_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// 3–32 letters or digits (generated when omitted).
    #[arg(long)]
    token: Option<String>,
    /// 43 letters or digits (generated when omitted).
    #[arg(long)]
    aes_key: Option<String>,
    /// plaintext, compatible or safe.
    #[arg(long, default_value = "safe")]
    mode: String,
    /// Register the account with the built-in WeChat sandbox (default in sandbox mode).
    #[arg(long, conflicts_with = "live")]
    sandbox: bool,
    /// Talk to the real WeChat API (default in live mode).
    #[arg(long)]
    live: bool,
}

fn main() -> anyhow::Result<()> {
    zhanggui::platform::memory::keep_freed_c_heap_for_reuse();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ZG_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let listen = match &command {
        Command::Serve(args) => args.listen.clone(),
        _ => None,
    };
    let config = Config::load_with_listen(cli.config.as_deref(), listen)?;
    server::runtime()?.block_on(run(command, config))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let db = server::open_database(&config).await?;
    let clock = Clock::default();
    let now = clock.now_ms();
    match command {
        Command::Serve(args) => serve(db, config, clock, args).await,
        Command::Migrate => {
            println!("database is up to date");
            Ok(())
        }
        Command::Demo => {
            zhanggui::demo::ensure_demo(&db, &config.public_url, now)
                .await
                .map_err(explain)?;
            println!("demo merchant ready: {}", zhanggui::demo::DEMO_MERCHANT);
            print_logins(&db).await
        }
        Command::Merchant(c) => merchant_command(&db, c, now).await,
        Command::User(c) => user_command(&db, c, now).await,
        Command::Account(c) => account_command(&db, &config, c, now).await,
        Command::Sandbox(args) => serve_sandbox(db, clock, args).await,
    }
}

async fn serve_sandbox(db: Db, clock: Clock, args: SandboxArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("  Emulated WeChat API / 模拟微信接口:  http://{addr}/cgi-bin/token");
    println!("  Stop with Ctrl-C.");
    let router = zhanggui::sandbox_mode::standalone_router(db.clone(), clock);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    db.close().await;
    Ok(())
}

/// Turns a validation error into a readable CLI message (in Chinese and English).
fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(fields) => {
            let lines: Vec<String> = fields
                .0
                .iter()
                .map(|f| {
                    format!(
                        "  --{}: {} / {}",
                        flag_of(&f.field),
                        Lang::ZhCn.render(&f.msg),
                        Lang::En.render(&f.msg)
                    )
                })
                .collect();
            anyhow::anyhow!("invalid input:\n{}", lines.join("\n"))
        }
        AppError::Conflict(m) | AppError::BadRequest(m) => {
            anyhow::anyhow!("{}", Lang::En.render(&m))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// The command-line flag that sets a form field (most are the field's name, dashed).
fn flag_of(field: &str) -> String {
    match field {
        "kind" => "type".to_string(),
        "security_mode" => "mode".to_string(),
        "encoding_aes_key" => "aes-key".to_string(),
        other => other.replace('_', "-"),
    }
}

async fn serve(db: Db, config: Config, clock: Clock, args: ServeArgs) -> anyhow::Result<()> {
    let now = clock.now_ms();
    let fresh = zhanggui::merchants::first_id(&db).await?.is_none();
    if config.mode == Mode::Sandbox && fresh && !args.no_demo {
        zhanggui::demo::ensure_demo(&db, &config.public_url, now)
            .await
            .map_err(explain)?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let public_url = config.public_url.clone();
    let mode = config.mode;
    let state = AppState::new(db.clone(), config, clock);
    let running = server::start(state, listener, server::job_registry()).await?;
    println!();
    println!(
        "  掌柜 Zhanggui is running ({} mode)",
        if mode == Mode::Sandbox {
            "sandbox"
        } else {
            "live"
        }
    );
    println!("  Console / 控制台:  {public_url}/");
    print_logins(&db).await?;
    println!("  Stop with Ctrl-C.");
    println!();
    running.run_until_signal().await;
    db.close().await;
    Ok(())
}

async fn print_logins(db: &Db) -> anyhow::Result<()> {
    let logins = zhanggui::demo::working_demo_logins(db)
        .await
        .map_err(explain)?;
    for (user, password, what) in &logins {
        println!("  Sign in / 登录:    {user} / {password}   ({what})");
    }
    if !logins.is_empty() {
        println!(
            "  Change these demo passwords before exposing the server (zhanggui user passwd)."
        );
    }
    Ok(())
}

async fn find_merchant(
    db: &Db,
    id_or_name: &str,
) -> anyhow::Result<zhanggui::merchants::MerchantRow> {
    let by_id = match id_or_name.parse::<i64>() {
        Ok(id) => zhanggui::merchants::get(db, id).await?,
        Err(_) => None,
    };
    match by_id {
        Some(m) => Ok(m),
        None => zhanggui::merchants::by_name(db, id_or_name)
            .await?
            .with_context(|| format!("no merchant with id or name {id_or_name:?}")),
    }
}

async fn merchant_command(db: &Db, c: MerchantCommand, now: i64) -> anyhow::Result<()> {
    match c {
        MerchantCommand::Add { name, timezone } => {
            let m = zhanggui::merchants::create(db, &MerchantInput { name, timezone }, now)
                .await
                .map_err(explain)?;
            println!("merchant {} created: {} ({})", m.id, m.name, m.timezone);
        }
        MerchantCommand::List => {
            println!(
                "{:>6}  {:<24} {:<16} {:>8} {:>6}",
                "ID", "NAME", "TIMEZONE", "ACCOUNTS", "STAFF"
            );
            for m in zhanggui::merchants::store::list(db, 0, i64::MAX).await? {
                println!(
                    "{:>6}  {:<24} {:<16} {:>8} {:>6}",
                    m.id, m.name, m.timezone, m.accounts, m.staff
                );
            }
        }
    }
    Ok(())
}

/// The password from a flag, from stdin, or a new random one (printed).
fn password_from(args: &PasswordArgs) -> anyhow::Result<(String, bool)> {
    if let Some(p) = &args.password {
        return Ok((p.clone(), false));
    }
    if args.password_stdin {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("password: ");
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_string(), false));
    }
    Ok((random_token(8), true))
}

async fn user_command(db: &Db, c: UserCommand, now: i64) -> anyhow::Result<()> {
    match c {
        UserCommand::Add {
            username,
            display_name,
            merchant,
            role,
            platform_admin,
            password,
        } => {
            let (password, generated) = password_from(&password)?;
            if platform_admin {
                validate_username(&username)
                    .map_err(|m| anyhow::anyhow!("--username: {}", Lang::En.render(&m)))?;
                check_password_strength(&password)
                    .map_err(|m| anyhow::anyhow!("--password: {}", Lang::En.render(&m)))?;
                let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut tx = db.begin().await?;
                let new = auth_store::NewUser {
                    username: &username,
                    display_name: &display_name,
                    password_hash: &hash,
                    is_platform_admin: true,
                };
                let id = auth_store::insert_user(&mut tx, &new, now)
                    .await
                    .map_err(|e| {
                        if zhanggui::platform::db::is_unique_violation(&e) {
                            anyhow::anyhow!("username {username:?} is taken")
                        } else {
                            e.into()
                        }
                    })?;
                if let Some(m) = merchant {
                    let m = find_merchant(db, &m).await?;
                    auth_store::upsert_membership(&mut tx, m.id, id, Role::Owner, now).await?;
                }
                tx.commit().await?;
                println!("platform admin {id} created: {username}");
            } else {
                let m = find_merchant(db, merchant.as_deref().unwrap_or_default()).await?;
                let Some(role) = Role::parse(&role) else {
                    bail!("--role must be owner, operator, agent or clerk")
                };
                let input = zhanggui::merchants::model::StaffInput {
                    username: username.clone(),
                    display_name,
                    password: password.clone(),
                    role,
                };
                let id = zhanggui::merchants::add_staff(db, m.id, &input, Role::Owner, now)
                    .await
                    .map_err(explain)?;
                println!(
                    "user {id} created: {username} ({} of {})",
                    role.as_str(),
                    m.name
                );
            }
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd { username, password } => {
            let (password, generated) = password_from(&password)?;
            check_password_strength(&password)
                .map_err(|m| anyhow::anyhow!("--password: {}", Lang::En.render(&m)))?;
            let user = auth_store::user_by_username(db, &username)
                .await?
                .with_context(|| format!("no user {username:?}"))?;
            let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            auth_store::set_password_hash(db, user.id, &hash).await?;
            auth_store::delete_sessions_of(db, user.id, None).await?;
            println!("password of {username} changed; signed out everywhere");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

async fn account_command(
    db: &Db,
    config: &Config,
    c: AccountCommand,
    now: i64,
) -> anyhow::Result<()> {
    match c {
        AccountCommand::Add(a) => {
            let m = find_merchant(db, &a.merchant).await?;
            let sandbox = if a.sandbox {
                Some(true)
            } else if a.live {
                Some(false)
            } else {
                None
            };
            let input = AccountInput {
                name: a.name,
                kind: a.kind,
                verified: a.verified,
                app_id: a.app_id.unwrap_or_default(),
                app_secret: a.app_secret.unwrap_or_default(),
                token: a.token.unwrap_or_default(),
                encoding_aes_key: a.aes_key.unwrap_or_default(),
                security_mode: a.mode,
                sandbox,
            };
            let row =
                zhanggui::accounts::create(db, m.id, &input, config.mode, &config.public_url, now)
                    .await
                    .map_err(explain)?;
            println!("account {} created for {}: {}", row.id, m.name, row.name);
            println!("  AppID:          {}", row.app_id);
            println!(
                "  WeChat side:    {}",
                if row.sandbox {
                    "sandbox (built-in emulator)"
                } else {
                    "real WeChat"
                }
            );
            println!(
                "Paste into WeChat (设置与开发 → 基本配置 → 服务器配置); shown in full only now:"
            );
            println!("  URL:            {}", row.callback_url(&config.public_url));
            println!("  Token:          {}", row.token);
            println!("  EncodingAESKey: {}", row.encoding_aes_key);
            println!("  消息加解密方式:  {}", row.security_mode);
        }
        AccountCommand::List { merchant } => {
            let only = match merchant {
                Some(m) => Some(find_merchant(db, &m).await?.id),
                None => None,
            };
            println!(
                "{:>5} {:>8}  {:<20} {:<12} {:<8} {:<18} {:<10} CALLBACK URL",
                "ID", "MERCHANT", "NAME", "TYPE", "VERIFIED", "APPID", "MODE"
            );
            for a in zhanggui::accounts::store::list_all(db).await? {
                if only.is_some_and(|m| m != a.merchant_id) {
                    continue;
                }
                println!(
                    "{:>5} {:>8}  {:<20} {:<12} {:<8} {:<18} {:<10} {}",
                    a.id,
                    a.merchant_id,
                    a.name,
                    a.kind,
                    if a.verified { "yes" } else { "no" },
                    a.app_id,
                    a.security_mode,
                    a.callback_url(&config.public_url)
                );
            }
        }
        AccountCommand::Show { id } => {
            let a = zhanggui::accounts::store::get_any(db, id)
                .await?
                .with_context(|| format!("no account {id}"))?;
            let mask = zhanggui::accounts::model::mask;
            println!("account {}: {}", a.id, a.name);
            println!("  merchant:       {}", a.merchant_id);
            println!(
                "  type:           {}{}",
                a.kind,
                if a.verified {
                    " (verified)"
                } else {
                    " (not verified)"
                }
            );
            println!("  AppID:          {}", a.app_id);
            println!("  AppSecret:      {}", mask(&a.app_secret));
            println!("  Token:          {}", mask(&a.token));
            println!("  EncodingAESKey: {}", mask(&a.encoding_aes_key));
            println!("  mode:           {}", a.security_mode);
            println!(
                "  WeChat side:    {}",
                if a.sandbox { "sandbox" } else { "real WeChat" }
            );
            println!("  URL:            {}", a.callback_url(&config.public_url));
        }
    }
    Ok(())
}
