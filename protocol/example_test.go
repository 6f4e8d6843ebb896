package protocol_test

import (
	"encoding/json"
	"fmt"

	"github.com/mizan-afi/mizan/protocol"
)

func ExampleFormatHeader() {
	h, err := protocol.FormatHeader([]protocol.Target{
		{Context: "user", Params: map[string]any{"user_id": 5}},
		{Context: "search", Params: map[string]any{"q": "a,b c"}},
		protocol.Broad("notifications"),
		{Context: "user", Params: map[string]any{"user_id": 5}}, // a duplicate
	})
	fmt.Println(h, err)
	// Output: user;user_id=5, search;q=a%2Cb%20c, notifications <nil>
}

func ExampleParseHeader() {
	targets, err := protocol.ParseHeader("user;user_id=5, notifications")
	if err != nil {
		panic(err)
	}
	for _, t := range targets {
		fmt.Println(t.Context, t.Params, t.IsBroad())
	}
	// Output:
	// user map[user_id:5] false
	// notifications map[] true
}

func ExampleTarget_MarshalJSON() {
	b, _ := json.Marshal([]protocol.Target{
		protocol.Broad("user"),
		{Context: "user", Function: "user_profile", Params: map[string]any{"user_id": 5}},
	})
	fmt.Println(string(b))
	// Output: ["user",{"context":"user","function":"user_profile","params":{"user_id":5}}]
}

func ExampleAppendEnvelope() {
	b := protocol.AppendEnvelope(nil, protocol.CodeInvalidArgs, "invalid arguments",
		map[string]string{"user_id": "required"})
	fmt.Println(protocol.CodeInvalidArgs.Status(), string(b))
	// Output: 400 {"error":{"code":"invalid_args","message":"invalid arguments","fields":{"user_id":"required"}}}
}
