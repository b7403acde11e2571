#include "common/rpc/request_status.h"

namespace spex {

std::string CappedStatusMessage(const absl::Status& status) {
  std::string message(status.message());
  if (message.size() > kMaxStatusMessageBytes) {
    message.resize(kMaxStatusMessageBytes - 3);
    message += "...";
  }
  return message;
}

v1::RequestStatus ToRequestStatus(const absl::Status& status) {
  v1::RequestStatus out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(CappedStatusMessage(status));
  return out;
}

}  // namespace spex
