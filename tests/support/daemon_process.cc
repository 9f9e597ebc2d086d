#include "tests/support/daemon_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace ctd::testing {
namespace {

constexpr char kLogName[] = "ctd.log";        // the child's stderr (and stdout), in the TempDir
constexpr char kStdoutName[] = "ctd.stdout";  // its stdout, with Stdout::kSeparate

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

int connect_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

}  // namespace

std::optional<HttpReply> http_get(int port, const std::string& path) {
  const int fd = connect_loopback(port);
  if (fd < 0) return std::nullopt;
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string response;
  char buffer[8192];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, n);
  close(fd);
  const std::size_t header_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 ", 0) != 0 || header_end == std::string::npos) return std::nullopt;
  return HttpReply{std::stoi(response.substr(9, 3)), response.substr(header_end + 4)};
}

std::optional<double> metric_sample(const std::string& text, const std::string& series) {
  const std::string all = "\n" + text;
  const std::size_t at = all.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(all.substr(at + series.size() + 2));
}

bool accepts_connections(int port) {
  const int fd = connect_loopback(port);
  if (fd < 0) return false;
  close(fd);
  return true;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

DaemonProcess::DaemonProcess(const std::string& config_yaml, std::map<std::string, std::string> env,
                             std::vector<std::string> extra_args, Stdout stdout_to)
    : dir_("ctd-daemon") {
  const std::string config = dir_.write("ctd.yaml", config_yaml);
  const std::string log = dir_.path() + "/" + kLogName;
  const std::string standard_output =
      stdout_to == Stdout::kSeparate ? dir_.path() + "/" + kStdoutName : log;
  http_port_ = free_port();
  env["CTD_HTTP_PORT"] = std::to_string(http_port_);
  if (!env.count("CTD_ARTIFACT_ROOT")) env["CTD_ARTIFACT_ROOT"] = dir_.path() + "/artifacts";

  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (!env.count(entry.substr(0, entry.find('=')))) environment.push_back(entry);
  }
  for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const std::string binary = std::string(CTD_BINARY_DIR) + "/ctd";

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int out = standard_output == log
                        ? err
                        : open(standard_output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<const char*> argv = {binary.c_str(), "run", "-c", config.c_str()};
    for (const std::string& arg : extra_args) argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    execve(binary.c_str(), const_cast<char* const*>(argv.data()), envp.data());
    _exit(127);
  }
}

DaemonProcess::~DaemonProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
}

bool DaemonProcess::running() {
  if (exit_status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

bool DaemonProcess::wait_ready(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline && running()) {
    auto reply = http_get(http_port_, "/readyz");
    if (reply && reply->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void DaemonProcess::signal(int signal_number) {
  if (running()) kill(pid_, signal_number);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_status_;
}

std::string DaemonProcess::log() const {
  return read_file(dir_.path() + "/" + kLogName) + standard_output();
}

std::string DaemonProcess::standard_output() const {
  return read_file(dir_.path() + "/" + kStdoutName);  // empty unless Stdout::kSeparate
}

bool DaemonProcess::wait_for_log(const std::string& text, std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return log().find(text) != std::string::npos;
}

}  // namespace ctd::testing
