// The vocabulary between kilnd and kiln-init: every request kilnd sends
// and every event or reply kiln-init sends back, as typed values with one
// encoder and one decoder each (docs/PROTOCOL.md describes them).
//
// Both directions travel as frames (protocol/frame.h): a JSON object with
// "op" and "rid", plus a binary payload for file bytes. Decoders check every
// field's type and size and refuse what does not fit, so a frame from a
// sandbox can never throw, never carry a value deeper than the frame limits
// and never reach a caller in an unexpected shape. Runs (an execution or a
// foreground command) produce events for their rid until exactly one End;
// every other request gets exactly one Reply.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "protocol/frame.h"

namespace kiln::protocol {

using StringMap = std::map<std::string, std::string>;

// ---- requests: kilnd -> kiln-init ----

struct Ping {};
struct StartContext {
  std::string ctx, language, cwd;
  StringMap env;
  // Python modules the runner imports before it says ready (pool sandboxes).
  std::vector<std::string> preload;
};
struct StopContext {
  std::string ctx;
  bool restart = false;  // start a fresh runner in its place
};
struct Execute {
  std::string ctx, code;
  StringMap env;
  std::uint64_t timeout_ms = 0;  // 0: none
  std::uint64_t output_cap = 1 << 20;
  std::uint64_t result_cap = 16u << 20;
};
struct Interrupt {
  std::uint64_t target = 0;  // the rid of the run
};
struct RunCommand {
  std::string cmd, cwd = "/home/user";
  StringMap env;
  bool background = false;
  std::uint64_t timeout_ms = 0;
  std::uint64_t output_cap = 1 << 20;
  std::string stdin_data;  // the frame's payload
};
struct ListCommands {};
struct GetCommand {
  std::int64_t pid = 0;
};
struct KillCommand {
  std::int64_t pid = 0;
};
struct ListFiles {
  std::string path;
};
struct ReadFile {
  std::string path;
  std::uint64_t cap = 0;
};
struct WriteFile {
  std::string path;
  std::string data;  // the frame's payload
};
struct DeleteFile {
  std::string path;
};
struct MakeDir {
  std::string path;
};

using Request =
    std::variant<Ping, StartContext, StopContext, Execute, Interrupt, RunCommand, ListCommands,
                 GetCommand, KillCommand, ListFiles, ReadFile, WriteFile, DeleteFile, MakeDir>;

// True for requests answered by run events ending in End, not a Reply
// (a background command is answered by a Reply).
bool is_run(const Request& r);

Frame encode_request(std::uint64_t rid, Request request);
struct DecodedRequest {
  std::uint64_t rid = 0;
  Request request;
};
Result<DecodedRequest> decode_request(Frame frame);

// ---- events and replies: kiln-init -> kilnd ----

// The refusal codes kiln-init may answer with; anything else decodes as
// kInternal. api/ maps them to HTTP in one place.
enum class ReplyCode { kOk, kBadRequest, kNotFound, kConflict, kTooLarge, kNoSpace, kInternal };
const char* reply_code_name(ReplyCode code);

struct Hello {
  std::int64_t pid = 0;
};
enum class Stream { kStdout, kStderr };
struct Output {
  Stream stream = Stream::kStdout;
  std::string text;
  bool notice = false;  // kiln's own note (truncation), not the program's output
};
// One rich result: a MIME bundle with the API's field names (text, html,
// markdown, svg, png, jpeg, pdf, latex, json, javascript), is_main_result,
// and the optional chart/data/extra objects.
struct ResultEvent {
  nlohmann::json bundle = nlohmann::json::object();
};
struct ErrorEvent {
  std::string name, value, traceback;
  std::optional<std::int64_t> line;
};
struct ProcessExit {
  std::optional<int> code, signal;
};
struct End {
  std::optional<std::int64_t> execution_count;  // executions
  std::optional<int> exit_code;                 // commands
  bool timed_out = false;
  std::optional<ProcessExit> runner_exit;  // the interpreter died during the run
  bool restarted = false;                  // ... and a fresh one took its place
  bool stopped = false;                    // the context was deleted or restarted
};
struct Reply {
  ReplyCode code = ReplyCode::kOk;
  std::string message;                             // when refused
  nlohmann::json body = nlohmann::json::object();  // op-specific fields when ok
  std::string data;                                // file bytes (ReadFile)
  bool ok() const { return code == ReplyCode::kOk; }
};

using Event = std::variant<Hello, Output, ResultEvent, ErrorEvent, End, Reply>;

// Whether the event is the last one for its rid.
inline bool is_terminal(const Event& e) {
  return std::holds_alternative<End>(e) || std::holds_alternative<Reply>(e);
}

Frame encode_event(std::uint64_t rid, const Event& event);
struct DecodedEvent {
  std::uint64_t rid = 0;
  Event event;
};
// Refuses a frame whose fields have the wrong types or sizes. A result
// bundle keeps only the known fields of the right type.
Result<DecodedEvent> decode_event(Frame frame);

// Replies with bodies: helpers for both sides.
Reply ok_reply(nlohmann::json body = nlohmann::json::object(), std::string data = {});
Reply refusal(ReplyCode code, std::string message);

// ---- typed reply bodies ----

struct FileEntry {
  std::string name, path, type;  // type: file, dir, symlink, other
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  // seconds since the epoch
};
nlohmann::json file_entries_json(const std::vector<FileEntry>& entries);
Result<std::vector<FileEntry>> decode_file_entries(const Reply& reply);

struct CommandInfo {
  std::int64_t pid = 0;
  std::string cmd;
  bool running = false;
  std::optional<int> exit_code;
  std::optional<std::string> stdout_text, stderr_text;  // only for GetCommand
};
nlohmann::json command_json(const CommandInfo& c);
Result<CommandInfo> decode_command(const nlohmann::json& j);
Result<std::vector<CommandInfo>> decode_command_list(const Reply& reply);
Result<CommandInfo> decode_command_reply(const Reply& reply);

// The pid a StartContext or background RunCommand reply carries.
Result<std::int64_t> decode_pid(const Reply& reply);
// The size a WriteFile reply carries.
Result<std::uint64_t> decode_size(const Reply& reply);

}  // namespace kiln::protocol
