// The entry point: one client for the whole page, given to the app by the
// generated plugin (createMizan of @mizan/vue, which also keeps the
// `global` context observed) and made the default client, so that the
// generated callX/fetchX functions of src/gen/client.ts use it too.
import { configure } from '@mizan/base';
import { createApp } from 'vue';
import App from './App.vue';
import { mizanPlugin } from './gen/composables.js';

createApp(App).use(mizanPlugin(configure())).mount('#app');
