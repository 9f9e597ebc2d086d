#include "tests/support/pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace ctd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kStartAttempts = 5;  // fresh ports tried when another process takes ours
constexpr const char* kPgCtlWaitSeconds = "60";
constexpr auto kReadyTimeout = 30s;
constexpr auto kReadyPollInterval = 50ms;
constexpr std::size_t kServerLogTailLines = 40;
constexpr std::size_t kToolLogTailLines = 20;
constexpr const char* kServerOptions =
    " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=on"
    " -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB";

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), "PgServer: " + what);
}

// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  explicit FileDescriptor(int fd) : fd(fd) {}
  ~FileDescriptor() {
    if (fd >= 0) close(fd);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int fd;
};

// Who the server tools run as: PostgreSQL refuses to run as root, so root hands over to the
// `postgres` system user.
struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Identity server_identity() {
  if (geteuid() != 0) return {};
  const passwd* user = getpwnam("postgres");
  if (user == nullptr) {
    throw std::runtime_error("PgServer: running as root needs a `postgres` system user");
  }
  return {true, user->pw_uid, user->pw_gid};
}

// The forked child: only async-signal-safe calls until exec, since the parent may have threads.
[[noreturn]] void exec_child(char* const* argv, const Identity& who, int output_fd,
                             const char* cwd) {
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(output_fd, STDOUT_FILENO) < 0 ||
      dup2(output_fd, STDERR_FILENO) < 0) {
    _exit(126);
  }
  close_range(STDERR_FILENO + 1, ~0U, 0);  // keep the test's sockets and files out of the server
  if (who.switch_user &&
      (setgroups(0, nullptr) != 0 || setgid(who.gid) != 0 || setuid(who.uid) != 0)) {
    _exit(126);
  }
  if (chdir(cwd) != 0) _exit(126);
  execv(argv[0], argv);
  _exit(127);
}

// Runs argv (argv[0] is a full path) with stdout and stderr going to output_fd; returns the
// exit status, or 128 + the signal number.
int run_process(const std::vector<std::string>& argv, const Identity& who, int output_fd,
                const std::string& cwd) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(args.data(), who, output_fd, cwd.c_str());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool has_server_binaries(const fs::path& dir) {
  return access((dir / "postgres").c_str(), X_OK) == 0 &&
         access((dir / "initdb").c_str(), X_OK) == 0;
}

// Debian and Ubuntu keep each major version in /usr/lib/postgresql/<version>/bin.
std::string newest_versioned_bin_dir() {
  std::error_code error;
  fs::path best;
  double best_version = -1;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", error)) {
    const double version = std::strtod(entry.path().filename().c_str(), nullptr);
    const fs::path bin = entry.path() / "bin";
    if (version > best_version && has_server_binaries(bin)) {
      best = bin;
      best_version = version;
    }
  }
  return best.string();
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir) / name;
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::string pg_config_bin_dir() {
  const std::string pg_config = find_in_path("pg_config");
  if (pg_config.empty()) return "";
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
  FileDescriptor read_end(fds[0]);
  {
    FileDescriptor write_end(fds[1]);
    if (run_process({pg_config, "--bindir"}, Identity{}, write_end.fd, "/") != 0) return "";
  }
  std::string output;
  char buffer[512];
  for (ssize_t n; (n = read(read_end.fd, buffer, sizeof buffer)) > 0;) output.append(buffer, n);
  while (!output.empty() && std::isspace(static_cast<unsigned char>(output.back()))) {
    output.pop_back();
  }
  return output;
}

std::string find_bin_dir() {
  if (const char* env = std::getenv("CTD_PG_BINDIR"); env != nullptr && *env != '\0') {
    if (has_server_binaries(env)) return env;
    throw std::runtime_error(std::string("PgServer: CTD_PG_BINDIR=") + env +
                             " holds no executable postgres and initdb");
  }
  if (std::string dir = newest_versioned_bin_dir(); !dir.empty()) return dir;
  if (std::string dir = pg_config_bin_dir(); !dir.empty() && has_server_binaries(dir)) {
    return dir;
  }
  throw std::runtime_error(
      "PgServer: no PostgreSQL server binaries found; install the server or set CTD_PG_BINDIR");
}

// pg_ctl hands paths and options to /bin/sh, so we only accept paths that need no quoting.
bool is_plain_path(const std::string& path) {
  for (const char c : path) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '.' && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

// Asks the kernel for a free loopback port. Another process may take it before the server
// binds it; start_on_free_port() retries then.
int pick_free_port() {
  FileDescriptor socket_fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket_fd.fd < 0) throw_errno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(socket_fd.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(socket_fd.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw_errno("picking a free port");
  }
  return ntohs(address.sin_port);
}

std::uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  return error ? 0 : size;
}

std::string read_file_from(const std::string& path, std::uintmax_t offset) {
  std::ifstream file(path, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

std::string last_lines(const std::string& text, std::size_t count) {
  std::size_t start = text.size();
  if (start > 0 && text.back() == '\n') --start;  // a trailing newline ends, not starts, a line
  for (std::size_t found = 0; found < count; ++found) {
    const std::size_t newline = start == 0 ? std::string::npos : text.rfind('\n', start - 1);
    if (newline == std::string::npos) return text;
    start = newline;
  }
  return text.substr(start + 1);
}

std::string log_section(const std::string& path, std::size_t lines) {
  const std::string text = read_file_from(path, 0);
  if (text.empty()) return "";
  return "\n--- last lines of " + path + " ---\n" + last_lines(text, lines);
}

// A value in a libpq connection string: quoted when it holds spaces, quotes or backslashes.
std::string conninfo_value(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \t\n'\\=") == std::string::npos) return value;
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

bool lost_the_port(const std::string& server_log) {
  return server_log.find("could not bind") != std::string::npos ||
         server_log.find("Address already in use") != std::string::npos;
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;
using EscapedString = std::unique_ptr<char, decltype(&PQfreemem)>;

}  // namespace

std::unique_ptr<PgServer> PgServer::start() {
  // Owned from the first step on, so the destructor removes whatever a failed start left.
  std::unique_ptr<PgServer> server(new PgServer());
  server->make_directories();
  server->init_cluster();
  server->start_on_free_port();
  return server;
}

PgServer::~PgServer() {
  try {
    if (!bin_dir_.empty() && (running_ || fs::exists(data_dir_ + "/postmaster.pid"))) {
      pg_ctl({"-m", "immediate", "-w", "stop"});
    }
  } catch (const std::exception&) {
    // Nothing more to do in a destructor; remove the directory regardless.
  }
  std::error_code ignored;
  if (!root_dir_.empty()) fs::remove_all(root_dir_, ignored);
}

std::string PgServer::dsn(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " user=postgres dbname=" + conninfo_value(database) + " connect_timeout=5";
}

void PgServer::create_database(const std::string& name) {
  if (!running_) fail("create_database(" + name + "): the server is not running");
  const Connection connection(PQconnectdb(dsn().c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    fail("cannot connect: " + std::string(PQerrorMessage(connection.get())));
  }
  const EscapedString quoted(PQescapeIdentifier(connection.get(), name.data(), name.size()),
                             &PQfreemem);
  if (quoted == nullptr) fail("cannot quote " + name + ": " + PQerrorMessage(connection.get()));
  const std::string sql = "CREATE DATABASE " + std::string(quoted.get());
  const Result result(PQexec(connection.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    fail(sql + " failed: " + PQerrorMessage(connection.get()));
  }
}

void PgServer::stop() {
  if (!running_) return;
  if (pg_ctl({"-m", "fast", "-w", "stop"}) != 0) fail("pg_ctl stop failed");
  running_ = false;
}

void PgServer::restart() {
  stop();
  if (!try_start(file_size_or_zero(log_file_))) {
    fail("port " + std::to_string(port_) + " was taken by another process");
  }
  wait_until_ready();
}

void PgServer::make_directories() {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ctd-pg-XXXXXX";
  if (mkdtemp(path.data()) == nullptr) throw_errno("mkdtemp " + path);
  root_dir_ = path;
  data_dir_ = root_dir_ + "/data";
  log_file_ = root_dir_ + "/server.log";
  tool_log_ = root_dir_ + "/tools.log";
  if (!is_plain_path(root_dir_)) {
    fail("the temporary directory needs a path without spaces or shell characters; set TMPDIR");
  }
  const Identity who = server_identity();
  if (who.switch_user && chown(root_dir_.c_str(), who.uid, who.gid) != 0) {
    throw_errno("chown " + root_dir_ + " to postgres");
  }
}

void PgServer::init_cluster() {
  bin_dir_ = find_bin_dir();
  const int status = run_tool("initdb", {"-D", data_dir_, "-A", "trust", "-U", "postgres",
                                         "--no-sync", "-E", "UTF8", "--locale=C"});
  if (status != 0) fail("initdb failed with status " + std::to_string(status));
}

void PgServer::start_on_free_port() {
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    port_ = pick_free_port();
    if (try_start(file_size_or_zero(log_file_))) {
      wait_until_ready();
      return;
    }
  }
  fail("every port tried was taken by another process");
}

bool PgServer::try_start(std::uintmax_t log_offset) {
  const std::string options = "-p " + std::to_string(port_) + " -k " + root_dir_ + kServerOptions;
  if (pg_ctl({"-l", log_file_, "-w", "-t", kPgCtlWaitSeconds, "-o", options, "start"}) == 0) {
    running_ = true;
    return true;
  }
  if (lost_the_port(read_file_from(log_file_, log_offset))) return false;
  fail("pg_ctl start failed on port " + std::to_string(port_));
}

// pg_ctl -w already waited for the postmaster; this makes sure TCP clients get in too.
void PgServer::wait_until_ready() {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  const std::string conninfo = dsn();
  while (PQping(conninfo.c_str()) != PQPING_OK) {
    if (std::chrono::steady_clock::now() >= deadline) {
      fail("the server did not accept connections on port " + std::to_string(port_));
    }
    std::this_thread::sleep_for(kReadyPollInterval);
  }
}

int PgServer::pg_ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> all_args = {"-D", data_dir_};
  all_args.insert(all_args.end(), args.begin(), args.end());
  return run_tool("pg_ctl", all_args);
}

// Runs a tool from bin_dir_ as the server's user, in root_dir_, logging to tool_log_.
int PgServer::run_tool(const std::string& tool, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {bin_dir_ + "/" + tool};
  argv.insert(argv.end(), args.begin(), args.end());
  const FileDescriptor log(
      open(tool_log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.fd < 0) throw_errno("open " + tool_log_);
  return run_process(argv, server_identity(), log.fd, root_dir_);
}

void PgServer::fail(const std::string& what) const {
  throw std::runtime_error("PgServer: " + what + log_section(tool_log_, kToolLogTailLines) +
                           log_section(log_file_, kServerLogTailLines));
}

}  // namespace ctd::testing
